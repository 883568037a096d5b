package awsfake_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// apiErr checks an SDK error's code, HTTP status and message.
func apiErr(t *testing.T, what string, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: %v, want API error %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s: %s %q, want %s containing %q", what, ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Errorf("%s: HTTP %d, want %d", what, re.HTTPStatusCode(), status)
	}
}

// everyOp calls one operation of each protocol family.
type probe struct {
	name string
	call func(aws.Config) error
}

func probes() []probe {
	ctx := context.Background()
	return []probe{
		{"ec2:DescribeVpcEndpoints", func(c aws.Config) error {
			_, err := ec2.NewFromConfig(c).DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{})
			return err
		}},
		{"rds:DescribeDBProxies", func(c aws.Config) error {
			_, err := rds.NewFromConfig(c).DescribeDBProxies(ctx, &rds.DescribeDBProxiesInput{})
			return err
		}},
		{"redshift:DescribeClusters", func(c aws.Config) error {
			_, err := redshift.NewFromConfig(c).DescribeClusters(ctx, &redshift.DescribeClustersInput{})
			return err
		}},
		{"redshift-serverless:ListWorkgroups", func(c aws.Config) error {
			_, err := redshiftserverless.NewFromConfig(c).ListWorkgroups(ctx, &redshiftserverless.ListWorkgroupsInput{})
			return err
		}},
		{"ssm:DescribeInstanceInformation", func(c aws.Config) error {
			_, err := ssm.NewFromConfig(c).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
			return err
		}},
		{"sts:GetCallerIdentity", func(c aws.Config) error {
			_, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}},
	}
}

func TestDeny(t *testing.T) {
	w := newWorld(t)
	w.f.Deny("ec2:DescribeVpcEndpoints", "rds:*", "redshift:DescribeClusters", "redshift-serverless:ListWorkgroups",
		"ssm:DescribeInstanceInformation", "sts:GetCallerIdentity")
	c := cfg(w.f, keyProd, region)
	want := map[string]struct {
		code   string
		status int
	}{
		"ec2:DescribeVpcEndpoints":           {"UnauthorizedOperation", 403},
		"rds:DescribeDBProxies":              {"AccessDenied", 403},
		"redshift:DescribeClusters":          {"AccessDenied", 403},
		"redshift-serverless:ListWorkgroups": {"AccessDeniedException", 400},
		"ssm:DescribeInstanceInformation":    {"AccessDeniedException", 400},
		"sts:GetCallerIdentity":              {"AccessDenied", 403},
	}
	for _, p := range probes() {
		wnt := want[p.name]
		apiErr(t, p.name, p.call(c), wnt.code, wnt.status,
			"User: arn:aws:iam::"+acctProd+":user/dbtunnel is not authorized to perform: "+p.name)
	}
	// Other operations still answer.
	if _, err := ec2.NewFromConfig(c).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("DescribeInstances with DescribeVpcEndpoints denied: %v", err)
	}
	w.f.Allow()
	for _, p := range probes() {
		if err := p.call(c); err != nil {
			t.Errorf("%s after Allow: %v", p.name, err)
		}
	}

	// A deny on one account leaves the others alone.
	w.f.Account("210987654321", "AKIDDEV").Deny("ec2:DescribeInstances")
	_, err := ec2.NewFromConfig(cfg(w.f, "AKIDDEV", region)).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	apiErr(t, "dev account", err, "UnauthorizedOperation", 403, "ec2:DescribeInstances")
	if _, err := ec2.NewFromConfig(c).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Errorf("prod account: %v", err)
	}
}

func TestExpiredAndUnknownKeys(t *testing.T) {
	w := newWorld(t)
	w.f.Account("210987654321", "AKIDOLD")
	w.f.ExpireKey("AKIDOLD")
	expired := map[string]struct {
		code   string
		status int
	}{
		"ec2:DescribeVpcEndpoints":           {"RequestExpired", 400},
		"rds:DescribeDBProxies":              {"ExpiredToken", 403},
		"redshift:DescribeClusters":          {"ExpiredToken", 403},
		"redshift-serverless:ListWorkgroups": {"ExpiredTokenException", 400},
		"ssm:DescribeInstanceInformation":    {"ExpiredTokenException", 400},
		"sts:GetCallerIdentity":              {"ExpiredToken", 403},
	}
	unknown := map[string]struct {
		code   string
		status int
	}{
		"ec2:DescribeVpcEndpoints":           {"AuthFailure", 401},
		"rds:DescribeDBProxies":              {"InvalidClientTokenId", 403},
		"redshift:DescribeClusters":          {"InvalidClientTokenId", 403},
		"redshift-serverless:ListWorkgroups": {"UnrecognizedClientException", 400},
		"ssm:DescribeInstanceInformation":    {"UnrecognizedClientException", 400},
		"sts:GetCallerIdentity":              {"InvalidClientTokenId", 403},
	}
	for _, p := range probes() {
		e, u := expired[p.name], unknown[p.name]
		apiErr(t, p.name+" expired", p.call(cfg(w.f, "AKIDOLD", region)), e.code, e.status, "")
		apiErr(t, p.name+" unknown", p.call(cfg(w.f, "AKIDNOBODY", region)), u.code, u.status, "")
		if err := p.call(cfg(w.f, keyProd, region)); err != nil {
			t.Errorf("%s with a good key: %v", p.name, err)
		}
	}
}

func TestThrottle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.f.Throttle("rds:DescribeDBInstances", 2).Throttle("ec2:*", 12).Throttle("ssm:*", 1).Throttle("redshift:*", 1)

	// The tests' retryer (10 attempts) rides over two throttles...
	out, err := rds.NewFromConfig(cfg(w.f, keyProd, region)).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil || len(out.DBInstances) != 4 {
		t.Errorf("after 2 throttles: %v", err)
	}
	if n := w.f.Calls("rds:DescribeDBInstances"); n < 3 {
		t.Errorf("rds calls %d, want 3", n)
	}
	// ... not over twelve.
	_, err = ec2.NewFromConfig(cfg(w.f, keyProd, region)).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	apiErr(t, "ec2 throttled", err, "RequestLimitExceeded", 503, "")
	_, err = ssm.NewFromConfig(aws.Config{Region: region, Credentials: cfg(w.f, keyProd, region).Credentials,
		BaseEndpoint: aws.String(w.f.URL), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}).
		DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	apiErr(t, "ssm throttled", err, "ThrottlingException", 400, "Rate exceeded")
	_, err = redshift.NewFromConfig(aws.Config{Region: region, Credentials: cfg(w.f, keyProd, region).Credentials,
		BaseEndpoint: aws.String(w.f.URL), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}).
		DescribeClusters(ctx, &redshift.DescribeClustersInput{})
	apiErr(t, "redshift throttled", err, "Throttling", 400, "Rate exceeded")
}

func TestLatencyHonoursCancellation(t *testing.T) {
	w := newWorld(t)
	w.f.Latency(time.Hour, "ec2:*")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ec2.NewFromConfig(cfg(w.f, keyProd, region)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed call: %v, want deadline exceeded", err)
	}
	if _, err := sts.NewFromConfig(cfg(w.f, keyProd, region)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("undelayed call: %v", err)
	}
	// NewServer's cleanup closes the server, which waits for the delayed
	// handler: the test would hang if it ignored the client going away.
}

func TestPageSizeKnob(t *testing.T) {
	w := newWorld(t)
	c := redshiftserverless.NewFromConfig(cfg(w.f, keyProd, region))
	w.f.PageSize(1)
	pages := collect[*redshiftserverless.ListWorkgroupsOutput, redshiftserverless.Options](t,
		redshiftserverless.NewListWorkgroupsPaginator(c, &redshiftserverless.ListWorkgroupsInput{MaxResults: aws.Int32(50)}))
	if len(pages) != 3 {
		t.Errorf("page size 1 over 3 workgroups: %d pages", len(pages))
	}
	w.f.PageSize(0)
	pages = collect[*redshiftserverless.ListWorkgroupsOutput, redshiftserverless.Options](t,
		redshiftserverless.NewListWorkgroupsPaginator(c, &redshiftserverless.ListWorkgroupsInput{}))
	if len(pages) != 1 {
		t.Errorf("default page size: %d pages", len(pages))
	}
}

// raw sends an unsigned-but-scoped request, as the SDKs shape them.
func raw(t *testing.T, f *awsfake.Fake, service, target, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if service != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyProd+"/20250106/"+region+"/"+service+
			"/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0000")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestWireEnvelopes(t *testing.T) {
	w := newWorld(t)
	type ec2Err struct {
		XMLName   xml.Name `xml:"Response"`
		Code      string   `xml:"Errors>Error>Code"`
		Message   string   `xml:"Errors>Error>Message"`
		RequestID string   `xml:"RequestID"`
	}
	type queryErr struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}

	// EC2 success: <XResponse xmlns=…><requestId/>…</XResponse>.
	resp, body := raw(t, w.f, "ec2", "", "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1="+w.pub.ID())
	var ok struct {
		XMLName   xml.Name
		RequestID string   `xml:"requestId"`
		Subnets   []string `xml:"subnetSet>item>subnetId"`
	}
	if err := xml.Unmarshal([]byte(body), &ok); err != nil || resp.StatusCode != 200 ||
		ok.XMLName.Local != "DescribeSubnetsResponse" || ok.XMLName.Space != "http://ec2.amazonaws.com/doc/2016-11-15/" ||
		ok.RequestID == "" || ok.RequestID != resp.Header.Get("X-Amzn-Requestid") || len(ok.Subnets) != 1 || ok.Subnets[0] != w.pub.ID() ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Errorf("ec2 reply %d %s: %+v %v", resp.StatusCode, body, ok, err)
	}

	// awsquery success: <XResponse><XResult>…</XResult><ResponseMetadata><RequestId/>.
	resp, body = raw(t, w.f, "rds", "", "Action=DescribeDBSubnetGroups&Version=2014-10-31&DBSubnetGroupName=docs-subnets")
	var q struct {
		XMLName   xml.Name
		Names     []string `xml:"DescribeDBSubnetGroupsResult>DBSubnetGroups>DBSubnetGroup>DBSubnetGroupName"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &q); err != nil || q.XMLName.Local != "DescribeDBSubnetGroupsResponse" ||
		q.XMLName.Space != "http://rds.amazonaws.com/doc/2014-10-31/" || len(q.Names) != 1 || q.RequestID == "" {
		t.Errorf("rds reply %s: %+v %v", body, q, err)
	}

	for _, tc := range []struct {
		name, service, target, body string
		status                      int
		code, msg                   string
	}{
		{"ec2 unknown action", "ec2", "", "Action=DescribeFoo&Version=2016-11-15", 400, "InvalidAction", "The action DescribeFoo is not valid for this web service."},
		{"rds unknown action", "rds", "", "Action=DescribeFoo&Version=2014-10-31", 400, "InvalidAction", "Could not find operation DescribeFoo for version 2014-10-31"},
		{"redshift unknown action", "redshift", "", "Action=DescribeFoo&Version=2012-12-01", 400, "InvalidAction", "DescribeFoo"},
		{"sts unknown action", "sts", "", "Action=DescribeFoo&Version=2011-06-15", 400, "InvalidAction", "DescribeFoo"},
		{"ssm unknown target", "ssm", "AmazonSSM.DescribeFoo", "{}", 400, "UnknownOperationException", ""},
		{"rss unknown target", "redshift-serverless", "RedshiftServerless.DescribeFoo", "{}", 400, "UnknownOperationException", ""},
		{"unemulated service", "lambda", "", "Action=ListFunctions", 400, "InvalidAction", "lambda"},
		{"unsigned query", "", "", "Action=DescribeDBInstances&Version=2014-10-31", 403, "MissingAuthenticationToken", ""},
		{"unsigned json", "", "AmazonSSM.DescribeInstanceInformation", "{}", 400, "MissingAuthenticationTokenException", ""},
		{"no action", "rds", "", "Version=2014-10-31", 400, "MissingAction", ""},
		{"bad json", "ssm", "AmazonSSM.DescribeInstanceInformation", "{", 400, "SerializationException", ""},
		{"ec2 bad token", "ec2", "", "Action=DescribeInstances&Version=2016-11-15&NextToken=zzz", 400, "InvalidParameterValue", "zzz"},
		{"rds bad marker", "rds", "", "Action=DescribeDBClusters&Version=2014-10-31&Marker=zzz", 400, "InvalidParameterValue", "zzz"},
		{"rss bad token", "redshift-serverless", "RedshiftServerless.ListWorkgroups", `{"nextToken":"zzz"}`, 400, "InvalidPaginationException", "zzz"},
		{"rds not found", "rds", "", "Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=nope", 404, "DBClusterNotFoundFault", "nope"},
		{"redshift subnet group not found", "redshift", "", "Action=DescribeClusterSubnetGroups&Version=2012-12-01&ClusterSubnetGroupName=x", 400, "ClusterSubnetGroupNotFoundFault", "x"},
	} {
		resp, body := raw(t, w.f, tc.service, tc.target, tc.body)
		var code, msg, reqID string
		switch {
		case tc.target != "":
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Errorf("%s: %v in %s", tc.name, err, body)
			}
			code, msg, reqID = e.Type, e.Message, resp.Header.Get("X-Amzn-Requestid")
		case tc.service == "ec2":
			var e ec2Err
			if err := xml.Unmarshal([]byte(body), &e); err != nil {
				t.Errorf("%s: %v in %s", tc.name, err, body)
			}
			code, msg, reqID = e.Code, e.Message, e.RequestID
		default:
			var e queryErr
			if err := xml.Unmarshal([]byte(body), &e); err != nil || e.Type != "Sender" {
				t.Errorf("%s: %v in %s", tc.name, err, body)
			}
			code, msg, reqID = e.Code, e.Message, e.RequestID
		}
		if resp.StatusCode != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) || reqID == "" {
			t.Errorf("%s: %d %s %q (request id %q), want %d %s %q\n%s", tc.name, resp.StatusCode, code, msg, reqID, tc.status, tc.code, tc.msg, body)
		}
	}
}

func TestCallCounters(t *testing.T) {
	w := newWorld(t)
	for range 3 {
		raw(t, w.f, "ec2", "", "Action=DescribeSubnets&Version=2016-11-15")
	}
	raw(t, w.f, "ssm", "AmazonSSM.DescribeInstanceInformation", "{}")
	w.f.Deny("sts:*")
	raw(t, w.f, "sts", "", "Action=GetCallerIdentity&Version=2011-06-15")
	if w.f.Calls("ec2:DescribeSubnets") != 3 || w.f.Calls("ssm:DescribeInstanceInformation") != 1 ||
		w.f.Calls("sts:GetCallerIdentity") != 1 || w.f.TotalCalls() != 5 || len(w.f.CallCounts()) != 3 {
		t.Errorf("counts %v", w.f.CallCounts())
	}
	w.f.ResetCalls()
	if w.f.TotalCalls() != 0 {
		t.Errorf("after reset: %v", w.f.CallCounts())
	}
}

func TestIDsAreRealisticAndDeterministic(t *testing.T) {
	build := func() []string {
		f := awsfake.New()
		r := f.Account(acctProd, keyProd).Region(region)
		vpc := r.VPC("10.0.0.0/16")
		sub := vpc.Subnet("10.0.1.0/24", awsfake.Public)
		sg := vpc.SecurityGroup("a")
		i := r.Instance("x", sub, sg)
		ep := vpc.InterfaceEndpoint("ssm", []*awsfake.Subnet{sub})
		return []string{vpc.ID(), sub.ID(), sg.ID(), i.ID(), ep.ID(), sub.RouteTableID(), vpc.InternetGatewayID()}
	}
	a, b := build(), build()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("not deterministic:\n%v\n%v", a, b)
	}
	re := regexp.MustCompile(`^(vpc|subnet|sg|i|vpce|rtb|igw)-0[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, id := range a {
		if !re.MatchString(id) || seen[id] {
			t.Errorf("id %q", id)
		}
		seen[id] = true
	}
}

func TestHandlerWithoutServer(t *testing.T) {
	f := awsfake.New()
	f.Account(acctProd, keyProd)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode()))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyProd+"/20250106/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0")
	f.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<Account>"+acctProd+"</Account>") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

// TestConcurrentBuildAndServe is for -race: the topology grows while
// clients page through it.
func TestConcurrentBuildAndServe(t *testing.T) {
	w := newWorld(t)
	w.f.PageSize(7)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := range 150 {
			i := w.r.Instance(fmt.Sprintf("scale-%d", n), w.priv, w.sgPriv).SSMOnline().Tag("n", "x")
			_ = i.PrivateIP()
			w.sgDB.AllowIngress("tcp", 5432, fmt.Sprintf("10.%d.0.0/16", n%250))
			if n%10 == 0 {
				w.r.RDSInstance(fmt.Sprintf("db-%d", n), "mysql", []*awsfake.Subnet{w.priv}, w.sgDB).Status("modifying")
			}
		}
	}()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			c := cfg(w.f, keyProd, region)
			for k := 0; k < 5; k++ {
				p := ec2.NewDescribeInstancesPaginator(ec2.NewFromConfig(c), &ec2.DescribeInstancesInput{})
				for p.HasMorePages() {
					if _, err := p.NextPage(ctx); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := ec2.NewFromConfig(c).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}); err != nil {
					t.Error(err)
				}
				if _, err := rds.NewFromConfig(c).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{}); err != nil {
					t.Error(err)
				}
				if _, err := ssm.NewFromConfig(c).DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{}); err != nil {
					t.Error(err)
				}
				_ = w.f.Calls("ec2:DescribeInstances")
			}
		}()
	}
	wg.Wait()
}
