// Package wire is the codec of the Session Manager data channel: the binary
// frame every message travels in and the JSON payloads of the acknowledge,
// handshake and channel_closed messages. It does no I/O; tunnel/ssm and the
// fake service in tunnel/ssm/ssmfake both build on it.
package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Message types, as they appear (space padded) in the frame header.
const (
	InputStreamData  = "input_stream_data"  // client → agent data
	OutputStreamData = "output_stream_data" // agent → client data
	Acknowledge      = "acknowledge"        // either way, one per data message
	ChannelClosed    = "channel_closed"     // service → client: the session is over
	StartPublication = "start_publication"  // service → client: resume sending
	PausePublication = "pause_publication"  // service → client: stop sending
)

// PayloadType says how a data message's payload is to be read.
type PayloadType uint32

// Payload types.
const (
	Output               PayloadType = 1
	Error                PayloadType = 2
	Size                 PayloadType = 3
	Parameter            PayloadType = 4
	HandshakeRequest     PayloadType = 5
	HandshakeResponse    PayloadType = 6
	HandshakeComplete    PayloadType = 7
	EncChallengeRequest  PayloadType = 8
	EncChallengeResponse PayloadType = 9
	Flag                 PayloadType = 10
	StdErr               PayloadType = 11
	ExitCode             PayloadType = 12
)

// FlagValue is the payload of a Flag message: a big-endian uint32.
type FlagValue uint32

// Flag values.
const (
	DisconnectToPort   FlagValue = 1 // client → agent, basic mode: the local connection closed
	TerminateSession   FlagValue = 2 // client → agent: end the session
	ConnectToPortError FlagValue = 3 // agent → client, mux mode: dialing the destination failed
)

// Header flag bits.
const (
	FlagSYN uint64 = 1
	FlagFIN uint64 = 2
)

// Frame layout. HeaderLength counts everything before PayloadLength.
const (
	HeaderLength      = 116 // what MarshalBinary writes
	ShortHeaderLength = 112 // channel_closed from the service: no PayloadType

	offType        = 4
	lenType        = 32
	offSchema      = 36
	offCreated     = 40
	offSeq         = 48
	offFlags       = 56
	offID          = 64
	offDigest      = 80
	offPayloadType = 112
)

// Decoding errors callers may branch on.
var (
	// ErrShortFrame: the frame ends before its header does.
	ErrShortFrame = errors.New("short frame")
	// ErrDigest: the payload does not match its SHA-256 digest.
	ErrDigest = errors.New("payload digest mismatch")
)

// Message is one data-channel frame.
type Message struct {
	Type           string    // MessageType, trimmed of spaces and NULs
	SchemaVersion  uint32    // 1
	CreatedDate    time.Time // ms precision on the wire
	SequenceNumber int64
	Flags          uint64
	MessageID      uuid.UUID // on the wire with its halves swapped
	PayloadType    PayloadType
	Payload        []byte
}

// MarshalBinary encodes m with HeaderLength 116 and the SHA-256 digest of
// the payload. A zero CreatedDate is set to now (whole milliseconds) and a zero MessageID to a
// new random UUID, in m itself, so the caller knows what was sent.
func (m *Message) MarshalBinary() ([]byte, error) {
	if len(m.Type) > lenType {
		return nil, fmt.Errorf("wire: message type %q longer than %d bytes", m.Type, lenType)
	}
	if m.CreatedDate.IsZero() {
		m.CreatedDate = time.UnixMilli(time.Now().UnixMilli())
	}
	ms := m.CreatedDate.UnixMilli()
	if ms < 0 {
		return nil, fmt.Errorf("wire: created date %v before 1970", m.CreatedDate)
	}
	if m.MessageID == uuid.Nil {
		id, err := uuid.NewRandom()
		if err != nil {
			return nil, fmt.Errorf("wire: message id: %w", err)
		}
		m.MessageID = id
	}
	if uint64(len(m.Payload)) > 1<<32-1-HeaderLength-4 {
		return nil, fmt.Errorf("wire: payload of %d bytes too large", len(m.Payload))
	}
	b := make([]byte, HeaderLength+4+len(m.Payload))
	be := binary.BigEndian
	be.PutUint32(b, HeaderLength)
	copy(b[offType:offType+lenType], m.Type)
	for i := offType + len(m.Type); i < offType+lenType; i++ {
		b[i] = ' '
	}
	be.PutUint32(b[offSchema:], m.SchemaVersion)
	be.PutUint64(b[offCreated:], uint64(ms))
	be.PutUint64(b[offSeq:], uint64(m.SequenceNumber))
	be.PutUint64(b[offFlags:], m.Flags)
	copy(b[offID:offID+8], m.MessageID[8:])
	copy(b[offID+8:offID+16], m.MessageID[:8])
	digest := sha256.Sum256(m.Payload)
	copy(b[offDigest:], digest[:])
	be.PutUint32(b[offPayloadType:], uint32(m.PayloadType))
	be.PutUint32(b[HeaderLength:], uint32(len(m.Payload)))
	copy(b[HeaderLength+4:], m.Payload)
	return b, nil
}

// UnmarshalBinary decodes one frame into m. It never panics; it fails on a
// frame too short for its header, a HeaderLength below 112, and a digest
// mismatch (wrapping ErrDigest).
//
// Leniency follows the official client: the payload is everything from
// HeaderLength+4 to the end of the frame (the PayloadLength field is not
// trusted), and HeaderLength 112 frames (the service's channel_closed) have
// no PayloadType. The digest is checked, like the official client does, on
// full-header frames with a payload, except start_publication and
// pause_publication (the official client skips all checks on those); it is
// not checked on 112-byte headers, whose digest field the service's
// channel_closed is not known to fill. The payload aliases b.
func (m *Message) UnmarshalBinary(b []byte) error {
	be := binary.BigEndian
	if len(b) < ShortHeaderLength+4 {
		return fmt.Errorf("wire: frame of %d bytes: %w", len(b), ErrShortFrame)
	}
	hl := be.Uint32(b)
	if hl < ShortHeaderLength {
		return fmt.Errorf("wire: header length %d below %d", hl, ShortHeaderLength)
	}
	if uint64(hl)+4 > uint64(len(b)) {
		return fmt.Errorf("wire: header length %d in a frame of %d bytes: %w", hl, len(b), ErrShortFrame)
	}
	created := be.Uint64(b[offCreated:])
	if created > 1<<63-1 {
		return fmt.Errorf("wire: created date %d out of range", created)
	}
	var id uuid.UUID
	copy(id[8:], b[offID:offID+8])
	copy(id[:8], b[offID+8:offID+16])
	out := Message{
		Type:           strings.Trim(string(b[offType:offType+lenType]), " \x00"),
		SchemaVersion:  be.Uint32(b[offSchema:]),
		CreatedDate:    time.UnixMilli(int64(created)),
		SequenceNumber: int64(be.Uint64(b[offSeq:])),
		Flags:          be.Uint64(b[offFlags:]),
		MessageID:      id,
		Payload:        b[hl+4:],
	}
	if hl >= HeaderLength {
		out.PayloadType = PayloadType(be.Uint32(b[offPayloadType:]))
		if len(out.Payload) > 0 && out.Type != StartPublication && out.Type != PausePublication {
			digest := sha256.Sum256(out.Payload)
			if !bytes.Equal(digest[:], b[offDigest:offDigest+sha256.Size]) {
				return fmt.Errorf("wire: %s seq %d: %w", out.Type, out.SequenceNumber, ErrDigest)
			}
		}
	}
	*m = out
	return nil
}

// String describes m for logs, without its payload.
func (m *Message) String() string {
	return fmt.Sprintf("%s seq=%d flags=%d type=%d len=%d id=%s", m.Type, m.SequenceNumber, m.Flags, m.PayloadType, len(m.Payload), m.MessageID)
}
