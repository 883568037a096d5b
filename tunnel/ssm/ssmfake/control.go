package ssmfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Session Manager documents the fake knows.
const (
	DocRemoteHost = "AWS-StartPortForwardingSessionToRemoteHost"
	DocPort       = "AWS-StartPortForwardingSession"
	DocSSH        = "AWS-StartSSHSession"
)

const dataChannelPrefix = "/v1/data-channel/"

func cutDataChannelPath(p string) (string, bool) {
	id, ok := strings.CutPrefix(p, dataChannelPrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

type startSessionInput struct {
	Target       string
	DocumentName string
	Parameters   map[string][]string
	Reason       string
}

type sessionOutput struct {
	SessionId  string //nolint:revive // AWS member name
	StreamUrl  string `json:",omitempty"` //nolint:revive // AWS member name
	TokenValue string `json:",omitempty"`
}

type sessionIDInput struct {
	SessionId string //nolint:revive // AWS member name
}

func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSSM.")
	if r.Method != http.MethodPost || !ok {
		s.writeError(w, &APIError{Status: http.StatusBadRequest, Type: "UnknownOperationException",
			Message: fmt.Sprintf("ssmfake: unknown operation %s %q", r.Method, target)})
		return
	}
	// The signature is not verified, but an unsigned request would not get
	// this far with the real service.
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		s.writeError(w, &APIError{Status: http.StatusBadRequest, Type: "MissingAuthenticationTokenException",
			Message: "Missing Authentication Token"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.writeError(w, &APIError{Status: http.StatusBadRequest, Type: "SerializationException", Message: err.Error()})
		return
	}
	s.mu.Lock()
	injected := s.apiErrors[op]
	s.mu.Unlock()
	if injected != nil {
		s.writeError(w, injected)
		return
	}
	var out any
	var apiErr *APIError
	switch op {
	case "StartSession":
		var in startSessionInput
		if apiErr = decodeInput(body, &in); apiErr == nil {
			out, apiErr = s.startSession(r, in)
		}
	case "ResumeSession":
		var in sessionIDInput
		if apiErr = decodeInput(body, &in); apiErr == nil {
			out, apiErr = s.resumeSession(r, in)
		}
	case "TerminateSession":
		var in sessionIDInput
		if apiErr = decodeInput(body, &in); apiErr == nil {
			out, apiErr = s.terminateSession(in)
		}
	default:
		apiErr = &APIError{Status: http.StatusBadRequest, Type: "UnknownOperationException",
			Message: "ssmfake: operation " + op + " is not implemented"}
	}
	if apiErr != nil {
		s.writeError(w, apiErr)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, &APIError{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: err.Error()})
		return
	}
	s.writeHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func decodeInput(body []byte, v any) *APIError {
	if err := json.Unmarshal(body, v); err != nil {
		return &APIError{Status: http.StatusBadRequest, Type: "SerializationException", Message: err.Error()}
	}
	return nil
}

func (s *Service) writeHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
}

func (s *Service) writeError(w http.ResponseWriter, e *APIError) {
	s.stats.apiErrors.Add(1)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	b, _ := json.Marshal(map[string]string{"__type": e.Type, "Message": e.Message})
	s.writeHeaders(w)
	w.Header().Set("X-Amzn-Errortype", e.Type)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Service) startSession(r *http.Request, in startSessionInput) (any, *APIError) {
	if in.Target == "" {
		return nil, &APIError{Type: "ValidationException", Message: "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null"}
	}
	s.mu.Lock()
	agent, known := s.targets[in.Target]
	s.mu.Unlock()
	if !known || !agent.Online {
		return nil, &APIError{Type: "TargetNotConnected", Message: in.Target + " is not connected."}
	}
	host := agent.Address
	if host == "" {
		host = s.opts.InstanceAddress
	}
	param := func(name, def string) string {
		if v := in.Parameters[name]; len(v) > 0 {
			return v[0]
		}
		return def
	}
	props := map[string]string{}
	switch in.DocumentName {
	case DocRemoteHost:
		props["type"] = "LocalPortForwarding"
		props["portNumber"] = param("portNumber", "80")
		props["localPortNumber"] = param("localPortNumber", "")
		props["host"] = param("host", "")
		if props["host"] == "" {
			return nil, &APIError{Type: "InvalidParameters", Message: "Parameter \"host\" is required."}
		}
		host = props["host"]
	case DocPort:
		props["type"] = "LocalPortForwarding"
		props["portNumber"] = param("portNumber", "80")
		props["localPortNumber"] = param("localPortNumber", "")
	case DocSSH:
		props["portNumber"] = param("portNumber", "22")
	case "":
		return nil, &APIError{Type: "InvalidDocument", Message: "ssmfake: shell sessions are not supported; name a port forwarding document"}
	default:
		return nil, &APIError{Type: "InvalidDocument", Message: "Document " + in.DocumentName + " does not exist in your account"}
	}
	for name := range in.Parameters {
		if _, ok := props[name]; !ok {
			return nil, &APIError{Type: "InvalidParameters", Message: "Parameter \"" + name + "\" is not defined in document " + in.DocumentName + "."}
		}
	}
	if p, err := strconv.Atoi(props["portNumber"]); err != nil || p < 1 || p > 65535 {
		return nil, &APIError{Type: "InvalidParameters", Message: "Parameter \"portNumber\" must be a port number."}
	}
	if lp := props["localPortNumber"]; lp != "" {
		if p, err := strconv.Atoi(lp); err != nil || p < 0 || p > 65535 {
			return nil, &APIError{Type: "InvalidParameters", Message: "Parameter \"localPortNumber\" must be a port number."}
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &APIError{Status: http.StatusServiceUnavailable, Type: "InternalServerError", Message: "service closed"}
	}
	s.nsessions++
	ss := newSession(s, s.nsessions, "ssmfake-"+randomHex(9)[:17], in.Target, in.DocumentName, agent,
		props, net.JoinHostPort(host, props["portNumber"]))
	if sc, err := signedScope(r); err == nil {
		ss.region = sc.region
	}
	s.sessions[ss.id] = ss
	s.mu.Unlock()
	ss.start()
	s.stats.startSession.Add(1)
	s.log.Debug("ssmfake: session started", "session", ss.id, "target", in.Target, "document", in.DocumentName, "destination", ss.dest)
	return sessionOutput{SessionId: ss.id, StreamUrl: streamURL(r, ss.id), TokenValue: ss.token}, nil
}

func (s *Service) resumeSession(r *http.Request, in sessionIDInput) (any, *APIError) {
	ss := s.lookup(in.SessionId)
	if ss == nil {
		return nil, &APIError{Type: "DoesNotExistException", Message: "Session " + in.SessionId + " does not exist."}
	}
	token, ok := ss.newToken()
	s.stats.resumeSession.Add(1)
	if !ok {
		// A session that is over resumes to no token: the official
		// client then reports that the session timed out.
		return sessionOutput{SessionId: ss.id}, nil
	}
	return sessionOutput{SessionId: ss.id, StreamUrl: streamURL(r, ss.id), TokenValue: token}, nil
}

func (s *Service) terminateSession(in sessionIDInput) (any, *APIError) {
	if in.SessionId == "" {
		return nil, &APIError{Type: "ValidationException", Message: "1 validation error detected: Value null at 'sessionId' failed to satisfy constraint: Member must not be null"}
	}
	if ss := s.lookup(in.SessionId); ss != nil {
		ss.terminate("TerminateSession", "", true)
	}
	s.stats.terminateSession.Add(1)
	return sessionOutput{SessionId: in.SessionId}, nil
}

func streamURL(r *http.Request, id string) string {
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + dataChannelPrefix + id + "?role=publish_subscribe"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newTokenValue() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
