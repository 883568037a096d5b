package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// awsEndpoint is the one AWS endpoint of the sandbox: Session Manager's
// session calls and data channels go to ssmfake, every other call
// (discovery's, SSM's DescribeInstanceInformation included) to awsfake.
type awsEndpoint struct {
	url                         string
	srv                         *http.Server
	served                      sync.WaitGroup
	configFile, credentialsFile string
}

func startAWS(fake *awsfake.Fake, ssm *ssmfake.Service, dir string) (*awsEndpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: aws endpoint: %w", err)
	}
	e := &awsEndpoint{url: "http://" + ln.Addr().String()}
	e.srv = &http.Server{Handler: route(fake, ssm), ReadHeaderTimeout: 10 * time.Second}
	e.served.Add(1)
	go func() {
		defer e.served.Done()
		e.srv.Serve(ln)
	}()
	fake.URL = e.url
	if err := os.Mkdir(dir, 0o700); err != nil {
		e.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	e.configFile, e.credentialsFile, err = fake.WriteSharedConfig(dir,
		awsfake.Profile{Name: ProfileDev, AccessKey: keyDev, Region: Region},
		awsfake.Profile{Name: ProfileProd, AccessKey: keyProd, Region: Region},
	)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return e, nil
}

// route sends each request to the fake that serves it.
func route(fake, ssm http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.StartSession", "AmazonSSM.ResumeSession", "AmazonSSM.TerminateSession":
			ssm.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/data-channel/") {
			ssm.ServeHTTP(w, r)
			return
		}
		fake.ServeHTTP(w, r)
	})
}

// loadOptions point the SDK at the sandbox and only there: its own config
// and credentials files (never ~/.aws), its endpoint, no instance
// metadata. A profile named in LoadOptions also outranks any
// AWS_ACCESS_KEY_ID in the environment.
func (e *awsEndpoint) loadOptions() []func(*awsconfig.LoadOptions) error {
	return []func(*awsconfig.LoadOptions) error{
		awsconfig.WithSharedConfigFiles([]string{e.configFile}),
		awsconfig.WithSharedCredentialsFiles([]string{e.credentialsFile}),
		awsconfig.WithBaseEndpoint(e.url),
		awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
}

// config is connect.Opener.AWSConfig for the sandbox.
func (e *awsEndpoint) config(ctx context.Context, profile, region string) (aws.Config, error) {
	return connect.LoadAWSConfig(ctx, profile, region, e.loadOptions()...)
}

// Close stops the endpoint and drops its connections (the SDK clients'
// idle ones end with them); sessions' websockets are ssmfake's to close.
func (e *awsEndpoint) Close() error {
	err := e.srv.Close()
	e.served.Wait()
	return err
}
