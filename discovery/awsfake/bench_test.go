package awsfake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// BenchmarkListScale lists 2,000 instances and 500 DB instances in pages
// of 100 through the real SDK: the fake's own cost in the scale benchmark.
func BenchmarkListScale(b *testing.B) {
	f := awsfake.NewServer(b)
	r := f.Account(acctProd, keyProd).Region(region)
	vpc := r.VPC("10.0.0.0/16")
	subs := []*awsfake.Subnet{vpc.Subnet("10.0.0.0/20"), vpc.Subnet("10.0.16.0/20")}
	sg := vpc.SecurityGroup("db")
	for n := range 2000 {
		r.Instance(fmt.Sprintf("i-%d", n), subs[n%2], sg).SSMOnline()
	}
	for n := range 500 {
		r.RDSInstance(fmt.Sprintf("db-%d", n), "postgres", subs, sg)
	}
	f.PageSize(100)
	c := cfg(f, keyProd, region)
	e, d := ec2.NewFromConfig(c), rds.NewFromConfig(c)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for p := ec2.NewDescribeInstancesPaginator(e, &ec2.DescribeInstancesInput{}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(out.Reservations)
		}
		for p := rds.NewDescribeDBInstancesPaginator(d, &rds.DescribeDBInstancesInput{}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(out.DBInstances)
		}
		if n != 2500 {
			b.Fatalf("%d items", n)
		}
	}
}
