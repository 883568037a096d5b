package awsssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	gossh "golang.org/x/crypto/ssh"
)

func newPub(t *testing.T) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func authorized(k gossh.PublicKey) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

// cloudInit is the console text cloud-init prints at first boot, with
// the prefix Amazon Linux puts on each line ("ec2: ") or none.
func cloudInit(prefix string, fps []string, keys []gossh.PublicKey) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[   10.123456] cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:final'\n")
	fmt.Fprintf(&b, "%s#############################################################\n", prefix)
	fmt.Fprintf(&b, "%s-----BEGIN SSH HOST KEY FINGERPRINTS-----\r\n", prefix)
	for _, fp := range fps {
		fmt.Fprintf(&b, "%s256 %s no comment (ED25519)\r\n", prefix, fp)
	}
	fmt.Fprintf(&b, "%s-----END SSH HOST KEY FINGERPRINTS-----\n", prefix)
	fmt.Fprintf(&b, "%s#############################################################\n", prefix)
	if keys != nil {
		fmt.Fprintf(&b, "-----BEGIN SSH HOST KEY KEYS-----\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "%s root@ip-10-0-1-23\n", authorized(k))
		}
		fmt.Fprintf(&b, "-----END SSH HOST KEY KEYS-----\n")
	}
	b.WriteString("Amazon Linux 2023\nip-10-0-1-23 login: \n")
	return b.String()
}

func TestParseConsole(t *testing.T) {
	k1, k2 := newPub(t), newPub(t)
	fp1, fp2 := gossh.FingerprintSHA256(k1), gossh.FingerprintSHA256(k2)

	h := ParseConsole(cloudInit("ec2: ", []string{fp1, fp2}, []gossh.PublicKey{k1}))
	if len(h.Fingerprints) != 2 || h.Fingerprints[0] != fp1 || h.Fingerprints[1] != fp2 {
		t.Fatalf("fingerprints %q, want [%s %s]", h.Fingerprints, fp1, fp2)
	}
	if len(h.Keys) != 1 || authorized(h.Keys[0]) != authorized(k1) {
		t.Fatalf("keys %v, want k1", h.Keys)
	}

	// Old images print MD5 fingerprints.
	md5 := gossh.FingerprintLegacyMD5(k1)
	h = ParseConsole(cloudInit("", []string{md5}, nil))
	if len(h.Fingerprints) != 1 || h.Fingerprints[0] != "MD5:"+md5 {
		t.Fatalf("md5 fingerprints %q", h.Fingerprints)
	}

	// A reboot that printed new keys: the latest block wins.
	h = ParseConsole(cloudInit("", []string{fp1}, nil) + cloudInit("", []string{fp2}, nil))
	if len(h.Fingerprints) != 1 || h.Fingerprints[0] != fp2 {
		t.Fatalf("after reboot %q, want only %s", h.Fingerprints, fp2)
	}

	// Cut short by the end of the buffer: what was printed still counts.
	cut := "-----BEGIN SSH HOST KEY KEYS-----\n" + authorized(k2) + " root@x\n"
	if h := ParseConsole(cut); len(h.Keys) != 1 {
		t.Fatalf("truncated block: %v", h.Keys)
	}

	for _, text := range []string{"", "boot log without keys\nlogin:", "ssh-ed25519 " + strings.Fields(authorized(k1))[1] + " outside any block"} {
		if h := ParseConsole(text); !h.Empty() {
			t.Fatalf("ParseConsole(%q) = %+v, want empty", text, h)
		}
	}
}

// The host-key decision the console makes.
func TestConsoleVerify(t *testing.T) {
	k1, k2, other := newPub(t), newPub(t), newPub(t)
	fp1 := gossh.FingerprintSHA256(k1)
	cases := []struct {
		name    string
		console string
		key     gossh.PublicKey
		ok      bool
		refuse  bool
	}{
		{"fingerprint matches", cloudInit("ec2: ", []string{fp1}, nil), k1, true, false},
		{"key matches", cloudInit("", nil, []gossh.PublicKey{k2}), k2, true, false},
		{"md5 matches", cloudInit("", []string{gossh.FingerprintLegacyMD5(k1)}, nil), k1, true, false},
		{"not listed", cloudInit("", []string{fp1}, []gossh.PublicKey{k2}), other, false, true},
		{"console silent", "login:", other, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := ParseConsole(tc.console).Verify("i-0abc", tc.key)
			if ok != tc.ok || (err != nil) != tc.refuse {
				t.Fatalf("Verify = %v, %v; want ok=%v refuse=%v", ok, err, tc.ok, tc.refuse)
			}
			var me *HostKeyMismatchError
			if tc.refuse && (!errors.As(err, &me) || !strings.Contains(err.Error(), gossh.FingerprintSHA256(tc.key)) || !strings.Contains(err.Error(), fp1)) {
				t.Fatalf("refusal %v should name the presented and the listed fingerprints", err)
			}
		})
	}
}

type consoleAPI struct {
	text string
	err  error
	ids  []string
}

func (c *consoleAPI) GetConsoleOutput(_ context.Context, in *ec2.GetConsoleOutputInput, _ ...func(*ec2.Options)) (*ec2.GetConsoleOutputOutput, error) {
	c.ids = append(c.ids, aws.ToString(in.InstanceId))
	if c.err != nil {
		return nil, c.err
	}
	return &ec2.GetConsoleOutputOutput{InstanceId: in.InstanceId, Output: aws.String(base64.StdEncoding.EncodeToString([]byte(c.text)))}, nil
}

func TestConsoleVoucher(t *testing.T) {
	k := newPub(t)
	log := slog.New(slog.DiscardHandler)
	api := &consoleAPI{text: cloudInit("", []string{gossh.FingerprintSHA256(k)}, nil)}
	src, ok, err := ConsoleVoucher(api, "i-0abc", log)(context.Background(), k)
	if !ok || err != nil || !strings.Contains(src, "i-0abc") || len(api.ids) != 1 || api.ids[0] != "i-0abc" {
		t.Fatalf("vouch = %q %v %v (asked %q)", src, ok, err, api.ids)
	}
	if _, ok, err := ConsoleVoucher(api, "i-0abc", log)(context.Background(), newPub(t)); ok || err == nil {
		t.Fatalf("other key: %v %v, want a refusal", ok, err)
	}
	// An unreadable console is no opinion, not a refusal.
	api = &consoleAPI{err: errors.New("UnauthorizedOperation")}
	if _, ok, err := ConsoleVoucher(api, "i-0abc", log)(context.Background(), k); ok || err != nil {
		t.Fatalf("unreadable console: %v %v, want no opinion", ok, err)
	}
}

func FuzzParseConsole(f *testing.F) {
	f.Add("-----BEGIN SSH HOST KEY FINGERPRINTS-----\n256 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x (ED25519)\n")
	f.Add("-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 AAAA\n-----END SSH HOST KEY KEYS-----")
	f.Fuzz(func(t *testing.T, s string) { ParseConsole(s) })
}
