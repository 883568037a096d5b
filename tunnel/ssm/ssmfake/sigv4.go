package ssmfake

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// dataChannelService is the SigV4 service name the websocket upgrade must
// be signed for; the control plane's is "ssm".
const dataChannelService = "ssmmessages"

// credentialScope is the <key>/<date>/<region>/<service>/aws4_request part
// of a SigV4 signature.
type credentialScope struct {
	region, service string
}

// signedScope reads the credential scope of a SigV4-signed request, from
// its Authorization header or, for a presigned URL, X-Amz-Credential.
// The signature itself is not verified: the fake has no secret keys.
func signedScope(r *http.Request) (credentialScope, error) {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if cred == "" {
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
		if !ok {
			return credentialScope{}, errors.New("missing authentication token: the request is not signed with AWS4-HMAC-SHA256")
		}
		for _, f := range strings.Split(auth, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "Credential="); ok {
				cred = v
			}
		}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[2] == "" || parts[3] == "" {
		return credentialScope{}, fmt.Errorf("malformed credential %q: want <key>/<date>/<region>/<service>/aws4_request", redactKey(cred))
	}
	return credentialScope{region: parts[2], service: parts[3]}, nil
}

// checkDataChannelScope is the service's check of a websocket upgrade: it
// must be signed for ssmmessages in the session's region (region is "" when
// the session's own was not known).
func checkDataChannelScope(r *http.Request, region string) error {
	sc, err := signedScope(r)
	if err != nil {
		return err
	}
	if sc.service != dataChannelService {
		return fmt.Errorf("credential should be scoped to correct service: %q, not %q", dataChannelService, sc.service)
	}
	if region != "" && sc.region != region {
		return fmt.Errorf("credential should be scoped to a valid region: %q, not %q", region, sc.region)
	}
	return nil
}

// redactKey keeps the access key id out of error messages.
func redactKey(cred string) string {
	if _, rest, ok := strings.Cut(cred, "/"); ok {
		return "…/" + rest
	}
	return "…"
}
