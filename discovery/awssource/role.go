package awssource

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// roleSession names dbtunnel's sessions in the target account's CloudTrail.
const roleSession = "dbtunnel"

// AssumeRole returns ac with credentials for role r, assumed (and renewed
// before they expire) with ac's own credentials, as the AWS CLI does for a
// profile with role_arn: an external ID when the role's trust policy wants
// one, and the MFA code read from the terminal when r names a device.
func AssumeRole(ac aws.Config, r discovery.Role) aws.Config {
	client := sts.NewFromConfig(ac)
	provider := stscreds.NewAssumeRoleProvider(client, r.ARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = roleSession
		if r.ExternalID != "" {
			o.ExternalID = aws.String(r.ExternalID)
		}
		if r.MFASerial != "" {
			o.SerialNumber = aws.String(r.MFASerial)
			o.TokenProvider = func() (string, error) { return mfaCode(r.MFASerial) }
		}
	})
	out := ac.Copy()
	out.Credentials = aws.NewCredentialsCache(provider)
	return out
}

// mfaCode asks for the device's code as the SDK's stdin prompt does, but
// on stderr, so that stdout stays clean for --json.
func mfaCode(serial string) (string, error) {
	fmt.Fprintf(os.Stderr, "MFA code for %s: ", serial)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	code := strings.TrimSpace(line)
	if code == "" {
		if err == nil {
			err = errors.New("empty")
		}
		return "", fmt.Errorf("read MFA code for %s: %w", serial, err)
	}
	return code, nil
}
