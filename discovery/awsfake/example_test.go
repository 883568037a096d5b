package awsfake_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

func Example() {
	f := awsfake.New()
	f.Start()
	defer f.Close()

	r := f.Account("123456789012", "AKIDPROD").Region("ap-northeast-1")
	vpc := r.VPC("10.0.0.0/16")
	pub := vpc.Subnet("10.0.1.0/24", awsfake.Public)
	sg := vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "203.0.113.0/24")
	r.Instance("bastion", pub, sg).PublicIP("198.51.100.10")

	// The real SDK, pointed at the fake.
	cfg := aws.Config{
		Region:       "ap-northeast-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDPROD", "any", ""),
		BaseEndpoint: aws.String(f.URL),
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		panic(err)
	}
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		panic(err)
	}
	i := out.Reservations[0].Instances[0]
	fmt.Println(aws.ToString(id.Account), aws.ToString(i.PublicIpAddress), i.State.Name)
	// Output: 123456789012 198.51.100.10 running
}
