package awsfake

import (
	"net/http"
	"regexp"
)

// AssumeRoleCall is one sts:AssumeRole the fake answered, granted or not.
type AssumeRoleCall struct {
	RoleARN      string
	ExternalID   string
	SerialNumber string
	TokenCode    string
	// Caller is the ARN of the identity that asked.
	Caller string
	// AccessKeyID is the key handed out; "" when refused.
	AccessKeyID string
}

// AssumeRoleCalls returns every sts:AssumeRole so far, oldest first.
func (f *Fake) AssumeRoleCalls() []AssumeRoleCall {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	return append([]AssumeRoleCall(nil), f.assumed...)
}

// RequireMFA makes roles in this account assumable only with MFA device
// serial and a six-digit code not used before, as a trust policy with
// aws:MultiFactorAuthPresent and STS's refusal of a reused code do.
func (a *Account) RequireMFA(serial string) *Account {
	a.f.kmu.Lock()
	defer a.f.kmu.Unlock()
	a.mfaSerial = serial
	return a
}

var totpCode = regexp.MustCompile(`^[0-9]{6}$`)

// checkMFA applies target's MFA requirement to an AssumeRole call.
func (f *Fake) checkMFA(target *Account, serial, code string) *apiError {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	if target.mfaSerial == "" {
		return nil
	}
	if serial != target.mfaSerial || !totpCode.MatchString(code) {
		return &apiError{http.StatusForbidden, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code."}
	}
	if f.usedCodes[serial+"/"+code] {
		return &apiError{http.StatusForbidden, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."}
	}
	if f.usedCodes == nil {
		f.usedCodes = map[string]bool{}
	}
	f.usedCodes[serial+"/"+code] = true
	return nil
}

func (f *Fake) recordAssumeRole(c AssumeRoleCall) {
	f.kmu.Lock()
	defer f.kmu.Unlock()
	f.assumed = append(f.assumed, c)
}
