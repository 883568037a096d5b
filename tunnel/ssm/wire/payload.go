package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// AckContent is the JSON payload of an acknowledge message. Receivers match
// it to the acknowledged message by sequence number.
type AckContent struct {
	AcknowledgedMessageType           string `json:"AcknowledgedMessageType"`
	AcknowledgedMessageId             string `json:"AcknowledgedMessageId"` //nolint:revive // wire name
	AcknowledgedMessageSequenceNumber int64  `json:"AcknowledgedMessageSequenceNumber"`
	IsSequentialMessage               bool   `json:"IsSequentialMessage"`
}

// NewAck builds the acknowledge message for data message m: sequence
// number 0, Flags SYN|FIN, payload the JSON AckContent.
func NewAck(m *Message) (*Message, error) {
	p, err := json.Marshal(AckContent{
		AcknowledgedMessageType:           m.Type,
		AcknowledgedMessageId:             m.MessageID.String(),
		AcknowledgedMessageSequenceNumber: m.SequenceNumber,
		IsSequentialMessage:               true,
	})
	if err != nil {
		return nil, fmt.Errorf("wire: ack content: %w", err)
	}
	return &Message{Type: Acknowledge, SchemaVersion: 1, Flags: FlagSYN | FlagFIN, Payload: p}, nil
}

// ParseAck decodes the payload of an acknowledge message.
func ParseAck(m *Message) (AckContent, error) {
	var a AckContent
	if err := json.Unmarshal(m.Payload, &a); err != nil {
		return a, fmt.Errorf("wire: ack content: %w", err)
	}
	return a, nil
}

// FlagPayload encodes a flag as the payload of a Flag message.
func FlagPayload(f FlagValue) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(f))
}

// ParseFlag decodes the payload of a Flag message.
func ParseFlag(p []byte) (FlagValue, error) {
	if len(p) != 4 {
		return 0, fmt.Errorf("wire: flag payload of %d bytes, want 4", len(p))
	}
	return FlagValue(binary.BigEndian.Uint32(p)), nil
}

// OpenDataChannelInput is the first websocket frame (text, JSON) the client
// sends: it presents the session token. The service does not answer it.
type OpenDataChannelInput struct {
	MessageSchemaVersion string `json:"MessageSchemaVersion"` // "1.0"
	RequestId            string `json:"RequestId"`            //nolint:revive // wire name
	TokenValue           string `json:"TokenValue"`
	ClientId             string `json:"ClientId"` //nolint:revive // wire name
	ClientVersion        string `json:"ClientVersion"`
}

// Handshake action types and statuses.
const (
	ActionSessionType   = "SessionType"
	ActionKMSEncryption = "KMSEncryption"

	ActionSuccess     = 1
	ActionFailed      = 2
	ActionUnsupported = 3
)

// ActionParameters are the parameters of a requested client action: the
// session type and the document's properties for SessionType, the key for
// KMSEncryption.
type ActionParameters struct {
	SessionType string         `json:"SessionType,omitempty"` // "Port" for port forwarding
	Properties  map[string]any `json:"Properties,omitempty"`  // portNumber, type ("LocalPortForwarding"), ...
	KMSKeyID    string         `json:"KMSKeyId,omitempty"`
}

// RequestedClientAction is one action the agent asks the client to take.
type RequestedClientAction struct {
	ActionType       string           `json:"ActionType"`
	ActionParameters ActionParameters `json:"ActionParameters"`
}

// HandshakeRequestPayload is the agent's first message (PayloadType 5).
type HandshakeRequestPayload struct {
	AgentVersion           string                  `json:"AgentVersion"` // four dotted parts
	RequestedClientActions []RequestedClientAction `json:"RequestedClientActions"`
}

// ProcessedClientAction is the client's answer to one requested action.
type ProcessedClientAction struct {
	ActionType   string `json:"ActionType"`
	ActionStatus int    `json:"ActionStatus"` // ActionSuccess, ActionFailed, ActionUnsupported
	ActionResult any    `json:"ActionResult"`
	Error        string `json:"Error"`
}

// HandshakeResponsePayload is the client's answer to the handshake request
// (PayloadType 6).
type HandshakeResponsePayload struct {
	ClientVersion          string                  `json:"ClientVersion"`
	ProcessedClientActions []ProcessedClientAction `json:"ProcessedClientActions"`
	Errors                 []string                `json:"Errors"`
}

// HandshakeCompletePayload ends the handshake (PayloadType 7, agent → client).
type HandshakeCompletePayload struct {
	HandshakeTimeToComplete time.Duration `json:"HandshakeTimeToComplete"` // nanoseconds
	CustomerMessage         string        `json:"CustomerMessage"`
}

// ChannelClosedPayload is the JSON payload of channel_closed; Output says why.
type ChannelClosedPayload struct {
	MessageId     string `json:"MessageId"` //nolint:revive // wire name
	CreatedDate   string `json:"CreatedDate"`
	DestinationId string `json:"DestinationId"` //nolint:revive // wire name
	SessionId     string `json:"SessionId"`     //nolint:revive // wire name
	MessageType   string `json:"MessageType"`
	SchemaVersion int    `json:"SchemaVersion"`
	Output        string `json:"Output"`
}
