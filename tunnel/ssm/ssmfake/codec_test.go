package ssmfake

// Codec cross-check: frames serialized by the official plugin's message
// package decode with tunnel/ssm/wire, and frames wire (and the fake)
// produce decode and validate with the plugin's. The plugin's codec runs in
// msgcodec (testdata/plugin/msgcodec), a filter of JSON lines.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// codecFrame mirrors msgcodec's Frame.
type codecFrame struct {
	Hex            string `json:",omitempty"`
	HeaderLength   uint32
	MessageType    string
	SchemaVersion  uint32
	CreatedDate    uint64
	SequenceNumber int64
	Flags          uint64
	MessageID      string
	PayloadType    uint32
	PayloadLength  uint32
	Payload        []byte
	Valid          string `json:",omitempty"`
	Ack            *wire.AckContent
}

func runMsgcodec(t *testing.T, mode string, in []codecFrame) []codecFrame {
	t.Helper()
	tl := needOfficialTools(t)
	var stdin bytes.Buffer
	enc := json.NewEncoder(&stdin)
	for _, f := range in {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tl.Msgcodec, mode)
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("msgcodec %s: %v\n%s", mode, err, stderr.String())
	}
	var res []codecFrame
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var f codecFrame
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
		res = append(res, f)
	}
	if len(res) != len(in) {
		t.Fatalf("msgcodec %s: %d frames out of %d", mode, len(res), len(in))
	}
	return res
}

func sampleMessages(t *testing.T) []*wire.Message {
	t.Helper()
	big := make([]byte, 1024)
	for i := range big {
		big[i] = byte(i * 7)
	}
	created := time.UnixMilli(1_700_000_000_123)
	hsReq := []byte(`{"AgentVersion":"3.3.0.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"5432","type":"LocalPortForwarding"}}}]}`)
	msgs := []*wire.Message{
		{Type: wire.OutputStreamData, SchemaVersion: 1, CreatedDate: created, SequenceNumber: 0, Flags: wire.FlagSYN,
			MessageID: uuid.MustParse("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), PayloadType: wire.HandshakeRequest, Payload: hsReq},
		{Type: wire.InputStreamData, SchemaVersion: 1, CreatedDate: created, SequenceNumber: 7,
			MessageID: uuid.MustParse("01020304-0506-0708-090a-0b0c0d0e0f10"), PayloadType: wire.Output, Payload: big},
		{Type: wire.InputStreamData, SchemaVersion: 1, CreatedDate: created, SequenceNumber: 1 << 40,
			MessageID: uuid.MustParse("ffffffff-ffff-ffff-0000-000000000001"), PayloadType: wire.Flag, Payload: wire.FlagPayload(wire.TerminateSession)},
		{Type: wire.OutputStreamData, SchemaVersion: 1, CreatedDate: created, SequenceNumber: 3,
			MessageID: uuid.MustParse("a0000000-0000-4000-8000-00000000000b"), PayloadType: wire.Output, Payload: nil},
	}
	ack, err := wire.NewAck(msgs[1])
	if err != nil {
		t.Fatal(err)
	}
	ack.CreatedDate = created
	ack.MessageID = uuid.MustParse("c0ffee00-1234-4abc-9def-0123456789ab")
	return append(msgs, ack)
}

func toCodecFrame(m *wire.Message) codecFrame {
	return codecFrame{
		MessageType:    m.Type,
		SchemaVersion:  m.SchemaVersion,
		CreatedDate:    uint64(m.CreatedDate.UnixMilli()),
		SequenceNumber: m.SequenceNumber,
		Flags:          m.Flags,
		MessageID:      m.MessageID.String(),
		PayloadType:    uint32(m.PayloadType),
		Payload:        m.Payload,
	}
}

// TestCodecTheirsToOurs: the plugin serializes, wire decodes.
func TestCodecTheirsToOurs(t *testing.T) {
	t.Parallel()
	msgs := sampleMessages(t)
	in := make([]codecFrame, len(msgs))
	for i, m := range msgs {
		in[i] = toCodecFrame(m)
	}
	for i, f := range runMsgcodec(t, "encode", in) {
		if len(msgs[i].Payload) == 0 {
			// The plugin cannot serialize an empty payload, so it never
			// sends one.
			if f.Hex != "" {
				t.Errorf("frame %d: the plugin serialized an empty payload", i)
			}
			continue
		}
		b, err := hex.DecodeString(f.Hex)
		if err != nil {
			t.Fatal(err)
		}
		var got wire.Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Errorf("frame %d: wire cannot decode the plugin's %s: %v", i, msgs[i].Type, err)
			continue
		}
		want := msgs[i]
		if got.Type != want.Type || got.SchemaVersion != want.SchemaVersion || !got.CreatedDate.Equal(want.CreatedDate) ||
			got.SequenceNumber != want.SequenceNumber || got.Flags != want.Flags || got.MessageID != want.MessageID ||
			got.PayloadType != want.PayloadType || !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("frame %d: decoded %s, want %s", i, got.String(), want.String())
		}
		// And byte for byte what wire would have written.
		ours, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, b) {
			t.Errorf("frame %d: wire and the plugin serialize %s differently:\n wire   %x\n plugin %x", i, want.Type, ours, b)
		}
	}
}

// TestCodecOursToTheirs: wire (and the fake's own frames) serialize, the
// plugin decodes and validates.
func TestCodecOursToTheirs(t *testing.T) {
	t.Parallel()
	msgs := sampleMessages(t)
	var in []codecFrame
	for _, m := range msgs {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, codecFrame{Hex: hex.EncodeToString(b)})
	}
	closed := channelClosedFrame("ssmfake-0123456789abcdef0", "Your session timed out due to inactivity and has been terminated.")
	in = append(in, codecFrame{Hex: hex.EncodeToString(closed)}, codecFrame{Hex: hex.EncodeToString(controlFrame(wire.PausePublication))})

	out := runMsgcodec(t, "decode", in)
	for i, m := range msgs {
		got, want := out[i], toCodecFrame(m)
		if got.Valid != "ok" {
			t.Errorf("frame %d (%s): the plugin rejects it: %s", i, m.Type, got.Valid)
		}
		if got.HeaderLength != wire.HeaderLength || got.PayloadLength != uint32(len(m.Payload)) ||
			got.MessageType != want.MessageType || got.SchemaVersion != want.SchemaVersion || got.CreatedDate != want.CreatedDate ||
			got.SequenceNumber != want.SequenceNumber || got.Flags != want.Flags || !strings.EqualFold(got.MessageID, want.MessageID) ||
			got.PayloadType != want.PayloadType || !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("frame %d: the plugin decodes\n %+v\nwant\n %+v", i, got, want)
		}
		if m.Type == wire.Acknowledge {
			if got.Ack == nil || got.Ack.AcknowledgedMessageSequenceNumber != msgs[1].SequenceNumber ||
				!strings.EqualFold(got.Ack.AcknowledgedMessageId, msgs[1].MessageID.String()) ||
				got.Ack.AcknowledgedMessageType != wire.InputStreamData || !got.Ack.IsSequentialMessage {
				t.Errorf("ack content as the plugin reads it: %+v", got.Ack)
			}
		}
	}
	cc := out[len(msgs)]
	if cc.Valid != "ok" || cc.MessageType != wire.ChannelClosed || cc.HeaderLength != wire.ShortHeaderLength {
		t.Errorf("channel_closed as the plugin reads it: %+v", cc)
	}
	var payload wire.ChannelClosedPayload
	if err := json.Unmarshal(cc.Payload, &payload); err != nil || payload.SessionId != "ssmfake-0123456789abcdef0" ||
		!strings.Contains(payload.Output, "inactivity") {
		t.Errorf("channel_closed payload as the plugin reads it: %q (%v)", cc.Payload, err)
	}
	if p := out[len(msgs)+1]; p.Valid != "ok" || p.MessageType != wire.PausePublication {
		t.Errorf("pause_publication as the plugin reads it: %+v", p)
	}
}
