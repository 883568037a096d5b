package awsfake

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SSM replies (JSON 1.1, UpperCamel).

type ssmInstanceInformation struct {
	InstanceID        string  `json:"InstanceId"`
	PingStatus        string  `json:"PingStatus"`
	LastPingDateTime  float64 `json:"LastPingDateTime"`
	AgentVersion      string  `json:"AgentVersion"`
	IsLatestVersion   bool    `json:"IsLatestVersion"`
	PlatformType      string  `json:"PlatformType"`
	PlatformName      string  `json:"PlatformName"`
	PlatformVersion   string  `json:"PlatformVersion"`
	ResourceType      string  `json:"ResourceType"`
	IPAddress         string  `json:"IPAddress"`
	ComputerName      string  `json:"ComputerName"`
	AssociationStatus string  `json:"AssociationStatus"`
	SourceID          string  `json:"SourceId"`
	SourceType        string  `json:"SourceType"`
}

type ssmFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

type ssmInfoFilter struct {
	Key      string   `json:"key"`
	ValueSet []string `json:"valueSet"`
}

type ssmDescribeInstanceInformationInput struct {
	MaxResults                    int             `json:"MaxResults"`
	NextToken                     string          `json:"NextToken"`
	Filters                       []ssmFilter     `json:"Filters"`
	InstanceInformationFilterList []ssmInfoFilter `json:"InstanceInformationFilterList"`
}

type ssmDescribeInstanceInformationOutput struct {
	InstanceInformationList []ssmInstanceInformation `json:"InstanceInformationList"`
	NextToken               string                   `json:"NextToken,omitempty"`
}

// ping is the agent's status as SSM reports it: an agent on an instance
// that is not running has lost its connection.
func (i *Instance) ping() string {
	if i.state != "running" && i.ssm.ping == "Online" {
		return "ConnectionLost"
	}
	return i.ssm.ping
}

func (i *Instance) ssmAttrs(name string) ([]string, bool) {
	switch name {
	case "InstanceIds":
		return one(i.id), true
	case "PingStatus":
		return one(i.ping()), true
	case "PlatformTypes":
		if i.windows {
			return one("Windows"), true
		}
		return one("Linux"), true
	case "ResourceType":
		return one("EC2Instance"), true
	case "AgentVersion":
		return one(i.ssm.version), true
	}
	return tagAttr(name, i.tags)
}

func ssmDescribeInstanceInformation(c *call) (any, *apiError) {
	var in ssmDescribeInstanceInformationInput
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	var fs []filter
	for _, x := range in.Filters {
		fs = append(fs, filter{x.Key, x.Values})
	}
	for _, x := range in.InstanceInformationFilterList {
		key := x.Key
		if key == "PlatformTypes" || key == "InstanceIds" || key == "PingStatus" || key == "ResourceType" || key == "AgentVersion" {
			fs = append(fs, filter{key, x.ValueSet})
		}
	}
	var items []*Instance
	for _, i := range c.region.instances {
		if i.ssm != nil && i.state != "terminated" && matches(fs, i.ssmAttrs) {
			items = append(items, i)
		}
	}
	page, next, aerr := paginate(c, items, in.NextToken, in.MaxResults, 50)
	if aerr != nil {
		return nil, aerr
	}
	now := float64(time.Now().UnixMilli()-30_000) / 1000
	out := ssmDescribeInstanceInformationOutput{NextToken: next, InstanceInformationList: []ssmInstanceInformation{}}
	for _, i := range page {
		w := ssmInstanceInformation{
			InstanceID: i.id, PingStatus: i.ping(), LastPingDateTime: now, AgentVersion: i.ssm.version,
			IsLatestVersion: i.ssm.version == "3.3.1611.0", PlatformType: "Linux", PlatformName: i.ssm.platformName,
			PlatformVersion: i.ssm.platformVersion, ResourceType: "EC2Instance", IPAddress: i.privateIP,
			ComputerName: privateDNS(c.region.name, i.privateIP), AssociationStatus: "Success",
			SourceID: i.id, SourceType: "AWS::EC2::Instance",
		}
		if i.windows {
			w.PlatformType = "Windows"
			w.ComputerName = "EC2AMAZ-" + strings.ToUpper(i.id[len(i.id)-7:])
		}
		if w.PingStatus != "Online" {
			w.LastPingDateTime = float64(created.Unix())
		}
		out.InstanceInformationList = append(out.InstanceInformationList, w)
	}
	return out, nil
}

// STS replies (awsquery).

type stsGetCallerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

func stsGetCallerIdentity(c *call) (any, *apiError) {
	userID := c.acct.userID
	if c.cred.userID != "" {
		userID = c.cred.userID
	}
	return stsGetCallerIdentityResult{Arn: c.callerARN(), UserID: userID, Account: c.acct.id}, nil
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type stsAssumedRoleUser struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type stsAssumeRoleResult struct {
	Credentials     stsCredentials     `xml:"Credentials"`
	AssumedRoleUser stsAssumedRoleUser `xml:"AssumedRoleUser"`
}

// stsAssumeRole hands out session credentials for any role in an account
// the fake knows; they act as that account.
func stsAssumeRole(c *call) (any, *apiError) {
	roleARN, session := c.param("RoleArn"), c.param("RoleSessionName")
	if roleARN == "" || session == "" {
		return nil, &apiError{http.StatusBadRequest, "ValidationError", "RoleArn and RoleSessionName are required"}
	}
	rec := AssumeRoleCall{RoleARN: roleARN, ExternalID: c.param("ExternalId"),
		SerialNumber: c.param("SerialNumber"), TokenCode: c.param("TokenCode"), Caller: c.callerARN()}
	out, err := assumeRole(c, roleARN, session)
	if err == nil {
		rec.AccessKeyID = out.Credentials.AccessKeyID
	}
	c.f.recordAssumeRole(rec)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func assumeRole(c *call, roleARN, session string) (*stsAssumeRoleResult, *apiError) {
	// arn:aws:iam::ACCOUNT:role/PATH/NAME
	parts := strings.SplitN(roleARN, ":", 6)
	denied := &apiError{http.StatusForbidden, "AccessDenied",
		"User: " + c.callerARN() + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN}
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return nil, denied
	}
	target := c.f.accounts[parts[4]]
	if target == nil {
		return nil, denied
	}
	c.f.kmu.Lock()
	want := target.externalID
	c.f.kmu.Unlock()
	if want != "" && c.param("ExternalId") != want {
		return nil, denied
	}
	if err := c.f.checkMFA(target, c.param("SerialNumber"), c.param("TokenCode")); err != nil {
		return nil, err
	}
	roleName := parts[5][strings.LastIndex(parts[5], "/")+1:]
	dur := 3600
	if d, err := strconv.Atoi(c.param("DurationSeconds")); err == nil && d > 0 {
		dur = d
	}
	c.f.kmu.Lock()
	c.f.reqSeq++
	seed := mix(c.f.reqSeq ^ 0xa55)
	c.f.kmu.Unlock()
	key := "ASIA" + spell(seed, upperAlnum, 16)
	roleID := "AROA" + spell(mix(seed), upperAlnum, 17)
	cred := &credential{
		acct:   target,
		arn:    "arn:aws:sts::" + target.id + ":assumed-role/" + roleName + "/" + session,
		userID: roleID + ":" + session,
	}
	c.f.addSession(key, cred)
	return &stsAssumeRoleResult{
		Credentials: stsCredentials{
			AccessKeyID: key, SecretAccessKey: spell(mix(seed+1), upperAlnum+lowerAlnum, 40),
			SessionToken: base64.StdEncoding.EncodeToString([]byte("awsfake-session/" + key + "/" + cred.arn)),
			Expiration:   time.Now().Add(time.Duration(dur) * time.Second).UTC().Format(time.RFC3339),
		},
		AssumedRoleUser: stsAssumedRoleUser{AssumedRoleID: cred.userID, Arn: cred.arn},
	}, nil
}
