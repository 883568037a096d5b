package awsfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// protocol is how a service encodes requests and replies.
type protocol int

const (
	protoQuery protocol = iota // awsquery: form in, <XResponse><XResult> out
	protoEC2                   // ec2 query: form in, <XResponse><requestId> out
	protoJSON                  // JSON 1.1 with X-Amz-Target
)

// xmlns of each XML service's replies.
var namespaces = map[string]string{
	"ec2":      "http://ec2.amazonaws.com/doc/2016-11-15/",
	"rds":      "http://rds.amazonaws.com/doc/2014-10-31/",
	"redshift": "http://redshift.amazonaws.com/doc/2012-12-01/",
	"sts":      "https://sts.amazonaws.com/doc/2011-06-15/",
}

// X-Amz-Target prefix → service (signing name).
var targetPrefixes = map[string]string{
	"AmazonSSM":                    "ssm",
	"RedshiftServerless":           "redshift-serverless",
	"AWSEC2InstanceConnectService": "ec2-instance-connect",
	"secretsmanager":               "secretsmanager",
}

type handler func(c *call) (any, *apiError)

// handlers lists every operation, by service; it is never modified.
var handlers = map[string]map[string]handler{
	"ec2": {
		"DescribeInstances":      ec2DescribeInstances,
		"DescribeSecurityGroups": ec2DescribeSecurityGroups,
		"DescribeSubnets":        ec2DescribeSubnets,
		"DescribeRouteTables":    ec2DescribeRouteTables,
		"DescribeVpcEndpoints":   ec2DescribeVpcEndpoints,
		"GetConsoleOutput":       ec2GetConsoleOutput,
	},
	"ec2-instance-connect": {
		"SendSSHPublicKey": eicSendSSHPublicKey,
	},
	"rds": {
		"DescribeDBInstances":        rdsDescribeDBInstances,
		"DescribeDBClusters":         rdsDescribeDBClusters,
		"DescribeDBClusterEndpoints": rdsDescribeDBClusterEndpoints,
		"DescribeDBProxies":          rdsDescribeDBProxies,
		"DescribeDBProxyEndpoints":   rdsDescribeDBProxyEndpoints,
		"DescribeDBSubnetGroups":     rdsDescribeDBSubnetGroups,
	},
	"redshift": {
		"DescribeClusters":            redshiftDescribeClusters,
		"DescribeClusterSubnetGroups": redshiftDescribeClusterSubnetGroups,
		"GetClusterCredentials":       redshiftGetClusterCredentials,
	},
	"redshift-serverless": {
		"ListWorkgroups":     rssListWorkgroups,
		"GetWorkgroup":       rssGetWorkgroup,
		"ListEndpointAccess": rssListEndpointAccess,
		"ListNamespaces":     rssListNamespaces,
		"GetCredentials":     rssGetCredentials,
	},
	"secretsmanager": {
		"GetSecretValue": smGetSecretValue,
	},
	"ssm": {
		"DescribeInstanceInformation": ssmDescribeInstanceInformation,
	},
	"sts": {
		"GetCallerIdentity": stsGetCallerIdentity,
		"AssumeRole":        stsAssumeRole,
	},
}

// call is one request being answered.
type call struct {
	f          *Fake
	proto      protocol
	service    string
	op         string
	version    string
	key        string
	regionName string
	form       url.Values
	body       []byte
	requestID  string

	acct   *Account
	cred   *credential
	region *Region // set under f.mu.RLock while the handler runs
}

// parse reads the service, operation, region and access key of a request.
func (f *Fake) parse(r *http.Request, body []byte) (*call, *apiError) {
	c := &call{f: f, requestID: f.nextRequestID()}
	var scopeService string
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		c.proto = protoJSON
		prefix, op, _ := strings.Cut(target, ".")
		c.service, c.op, c.body = targetPrefixes[prefix], op, body
		if c.service == "" {
			c.service = prefix
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return c, &apiError{http.StatusBadRequest, "MalformedQueryString", err.Error()}
		}
		for k, v := range r.URL.Query() {
			form[k] = append(form[k], v...)
		}
		c.form = form
		c.op, c.version = form.Get("Action"), form.Get("Version")
	}
	cred := credentialScope(r, c.form)
	if cred == "" {
		c.setQueryService("")
		return c, missingAuth(c.proto)
	}
	// AKID/DATE/REGION/SERVICE/aws4_request
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		c.setQueryService("")
		return c, &apiError{http.StatusBadRequest, "IncompleteSignature", "Credential should be scoped to a valid region, not '" + cred + "'."}
	}
	c.key, c.regionName, scopeService = parts[0], parts[2], parts[3]
	c.setQueryService(scopeService)
	if c.op == "" {
		return c, &apiError{http.StatusBadRequest, "MissingAction", "Missing Action"}
	}
	return c, nil
}

func (c *call) setQueryService(s string) {
	if c.proto == protoJSON {
		return
	}
	c.service = s
	if s == "ec2" {
		c.proto = protoEC2
	}
}

// credentialScope returns the Credential of a SigV4 Authorization header
// or presigned query.
func credentialScope(r *http.Request, form url.Values) string {
	if h := r.Header.Get("Authorization"); h != "" {
		for _, part := range strings.FieldsFunc(h, func(r rune) bool { return r == ',' || r == ' ' }) {
			if v, ok := strings.CutPrefix(part, "Credential="); ok {
				return v
			}
		}
		return ""
	}
	if form != nil {
		return form.Get("X-Amz-Credential")
	}
	return r.URL.Query().Get("X-Amz-Credential")
}

// apiError is an error reply.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func (c *call) callerARN() string {
	if c.cred != nil && c.cred.arn != "" {
		return c.cred.arn
	}
	if c.acct != nil {
		return c.acct.callerARN
	}
	return "arn:aws:iam::000000000000:user/unknown"
}

func (c *call) accessDenied() *apiError {
	action := c.service + ":" + c.op
	switch c.proto {
	case protoEC2:
		return &apiError{http.StatusForbidden, "UnauthorizedOperation",
			"You are not authorized to perform this operation. User: " + c.callerARN() +
				" is not authorized to perform: " + action + " because no identity-based policy allows the " + action + " action"}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "AccessDeniedException",
			"User: " + c.callerARN() + " is not authorized to perform: " + action + " on resource: arn:aws:" + c.service + ":" +
				c.regionName + ":" + c.acct.id + ":* because no identity-based policy allows the " + action + " action"}
	}
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: " + c.callerARN() + " is not authorized to perform: " + action + " on resource: arn:aws:" + c.service + ":" +
			c.regionName + ":" + c.acct.id + ":* because no identity-based policy allows the " + action + " action"}
}

func invalidKey(p protocol) *apiError {
	switch p {
	case protoEC2:
		return &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	return &apiError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
}

func expiredToken(p protocol) *apiError {
	switch p {
	case protoEC2:
		return &apiError{http.StatusBadRequest, "RequestExpired", "Request has expired."}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	return &apiError{http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"}
}

func throttling(p protocol) *apiError {
	switch p {
	case protoEC2:
		return &apiError{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "ThrottlingException", "Rate exceeded"}
	}
	return &apiError{http.StatusBadRequest, "Throttling", "Rate exceeded"}
}

func missingAuth(p protocol) *apiError {
	switch p {
	case protoEC2:
		return &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	return &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
}

func unknownOperation(c *call) *apiError {
	switch c.proto {
	case protoEC2:
		return &apiError{http.StatusBadRequest, "InvalidAction", "The action " + c.op + " is not valid for this web service."}
	case protoJSON:
		return &apiError{http.StatusBadRequest, "UnknownOperationException", ""}
	}
	if _, ok := handlers[c.service]; !ok {
		return &apiError{http.StatusBadRequest, "InvalidAction", "awsfake does not emulate service " + strconv.Quote(c.service)}
	}
	return &apiError{http.StatusBadRequest, "InvalidAction", "Could not find operation " + c.op + " for version " + c.version}
}

// invalidToken is the reply to a pagination token the fake did not issue.
func (c *call) invalidToken(tok string) *apiError {
	switch c.service {
	case "ssm":
		return &apiError{http.StatusBadRequest, "InvalidNextToken", "The specified token isn't valid."}
	case "redshift-serverless":
		return &apiError{http.StatusBadRequest, "InvalidPaginationException", "Invalid pagination token: " + tok}
	case "ec2":
		return &apiError{http.StatusBadRequest, "InvalidParameterValue", "Invalid value '" + tok + "' for nextToken"}
	}
	return &apiError{http.StatusBadRequest, "InvalidParameterValue", "Invalid marker: " + tok}
}

func (f *Fake) writeError(w http.ResponseWriter, c *call, e *apiError) {
	reqID := "00000000-0000-4000-8000-000000000000"
	proto, ns := protoQuery, ""
	if c != nil {
		reqID, proto, ns = c.requestID, c.proto, namespaces[c.service]
	}
	w.Header().Set("X-Amzn-RequestId", reqID)
	var b bytes.Buffer
	switch proto {
	case protoJSON:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", e.code)
		_ = json.NewEncoder(&b).Encode(struct {
			Type    string `json:"__type"`
			Message string `json:"message,omitempty"`
		}{e.code, e.message})
	case protoEC2:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		b.WriteString(xml.Header)
		b.WriteString("<Response><Errors><Error><Code>")
		xmlText(&b, e.code)
		b.WriteString("</Code><Message>")
		xmlText(&b, e.message)
		b.WriteString("</Message></Error></Errors><RequestID>" + reqID + "</RequestID></Response>")
	default:
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		typ := "Sender"
		if e.status >= 500 {
			typ = "Receiver"
		}
		b.WriteString(xml.Header)
		if ns != "" {
			b.WriteString(`<ErrorResponse xmlns="` + ns + `">`)
		} else {
			b.WriteString("<ErrorResponse>")
		}
		b.WriteString("<Error><Type>" + typ + "</Type><Code>")
		xmlText(&b, e.code)
		b.WriteString("</Code><Message>")
		xmlText(&b, e.message)
		b.WriteString("</Message></Error><RequestId>" + reqID + "</RequestId></ErrorResponse>")
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(e.status)
	_, _ = w.Write(b.Bytes())
}

func xmlText(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

func (f *Fake) writeResult(w http.ResponseWriter, c *call, out any) {
	var b bytes.Buffer
	w.Header().Set("X-Amzn-RequestId", c.requestID)
	if c.proto == protoJSON {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err := json.NewEncoder(&b).Encode(out); err != nil {
			f.writeError(w, c, &apiError{http.StatusInternalServerError, "InternalFailure", err.Error()})
			return
		}
	} else {
		inner, err := innerXML(out)
		if err != nil {
			f.writeError(w, c, &apiError{http.StatusInternalServerError, "InternalFailure", err.Error()})
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		b.WriteString(xml.Header)
		b.WriteString("<" + c.op + `Response xmlns="` + namespaces[c.service] + `">`)
		if c.proto == protoEC2 {
			b.WriteString("<requestId>" + c.requestID + "</requestId>")
			b.Write(inner)
		} else {
			b.WriteString("<" + c.op + "Result>")
			b.Write(inner)
			b.WriteString("</" + c.op + "Result><ResponseMetadata><RequestId>" + c.requestID + "</RequestId></ResponseMetadata>")
		}
		b.WriteString("</" + c.op + "Response>")
	}
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// innerXML encodes v's fields without an element of its own.
func innerXML(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if bytes.HasPrefix(out, []byte("<x/>")) {
		return nil, nil
	}
	return out[len("<x>") : len(out)-len("</x>")], nil
}

// Query parameters.

func (c *call) param(name string) string { return c.form.Get(name) }

func (c *call) intParam(name string) int {
	n, _ := strconv.Atoi(c.form.Get(name))
	return n
}

// list reads a query list: NAME.1, NAME.2, … .
func (c *call) list(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := c.form[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

type filter struct {
	name   string
	values []string
}

// ec2Filters reads Filter.N.Name and Filter.N.Value.M.
func (c *call) ec2Filters() []filter {
	var out []filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := c.form[p+".Name"]
		if !ok {
			return out
		}
		out = append(out, filter{name[0], c.list(p + ".Value")})
	}
}

// queryFilters reads Filters.Filter.N.Name and Filters.Filter.N.Values.Value.M.
func (c *call) queryFilters() []filter {
	var out []filter
	for i := 1; ; i++ {
		p := "Filters.Filter." + strconv.Itoa(i)
		name, ok := c.form[p+".Name"]
		if !ok {
			return out
		}
		out = append(out, filter{name[0], c.list(p + ".Values.Value")})
	}
}

// decode reads a JSON request body.
func (c *call) decode(v any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return nil
}

// attrs answers a filter name with the resource's values for it; known is
// false for filters the fake does not implement, which are ignored.
type attrs func(name string) (values []string, known bool)

func matches(fs []filter, get attrs) bool {
	for _, f := range fs {
		vals, known := get(f.name)
		if !known {
			continue
		}
		if !anyMatch(f.values, vals) {
			return false
		}
	}
	return true
}

func anyMatch(patterns, vals []string) bool {
	for _, p := range patterns {
		for _, v := range vals {
			if match(p, v) {
				return true
			}
		}
	}
	return false
}

// tagAttr answers tag:KEY and tag-key filters.
func tagAttr(name string, t tags) ([]string, bool) {
	if k, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := t.get(k); ok {
			return []string{v}, true
		}
		return nil, true
	}
	if name == "tag-key" {
		keys := make([]string, len(t))
		for i, x := range t {
			keys[i] = x.key
		}
		return keys, true
	}
	if name == "tag-value" {
		vals := make([]string, len(t))
		for i, x := range t {
			vals[i] = x.value
		}
		return vals, true
	}
	return nil, false
}

func one(s string) []string { return []string{s} }

// paginate cuts one page from items. max is what the client asked for (0:
// nothing), def the service's default page size; the Fake's PageSize caps
// both. The token is opaque to clients and bound to the operation.
func paginate[T any](c *call, items []T, token string, max, def int) ([]T, string, *apiError) {
	off := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		rest, ok := strings.CutPrefix(string(raw), "awsfake:"+c.service+":"+c.op+":")
		n, aerr := strconv.Atoi(rest)
		if err != nil || !ok || aerr != nil || n < 0 || n > len(items) {
			return nil, "", c.invalidToken(token)
		}
		off = n
	}
	size := def
	if max > 0 {
		size = max
	}
	c.f.kmu.Lock()
	if ps := c.f.pageSize; ps > 0 && ps < size {
		size = ps
	}
	c.f.kmu.Unlock()
	end := off + size
	if end >= len(items) {
		return items[off:], "", nil
	}
	next := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "awsfake:%s:%s:%d", c.service, c.op, end))
	return items[off:end], next, nil
}
