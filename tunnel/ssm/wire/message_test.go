package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestMarshalLayout(t *testing.T) {
	id := uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	m := &Message{
		Type: InputStreamData, SchemaVersion: 1, CreatedDate: time.UnixMilli(1700000000123),
		SequenceNumber: 7, Flags: 0, MessageID: id, PayloadType: Output, Payload: []byte("hello"),
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	if len(b) != 120+5 {
		t.Fatalf("len %d", len(b))
	}
	if got := be.Uint32(b); got != 116 {
		t.Errorf("header length %d", got)
	}
	if got := string(b[4:36]); got != "input_stream_data               " {
		t.Errorf("type %q", got)
	}
	if be.Uint32(b[36:]) != 1 || be.Uint64(b[40:]) != 1700000000123 || be.Uint64(b[48:]) != 7 {
		t.Error("schema, date or seq wrong")
	}
	if !bytes.Equal(b[64:72], id[8:]) || !bytes.Equal(b[72:80], id[:8]) {
		t.Errorf("message id halves not swapped: % x", b[64:80])
	}
	d := sha256.Sum256([]byte("hello"))
	if !bytes.Equal(b[80:112], d[:]) {
		t.Error("digest")
	}
	if be.Uint32(b[112:]) != 1 || be.Uint32(b[116:]) != 5 || string(b[120:]) != "hello" {
		t.Error("payload type, length or payload wrong")
	}
}

func TestMarshalFillsDateAndID(t *testing.T) {
	m := &Message{Type: Acknowledge}
	if _, err := m.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	if m.CreatedDate.IsZero() || m.MessageID == uuid.Nil {
		t.Fatalf("not filled: %v %v", m.CreatedDate, m.MessageID)
	}
}

func TestMarshalErrors(t *testing.T) {
	for name, m := range map[string]*Message{
		"long type":   {Type: "0123456789012345678901234567890123"},
		"before 1970": {Type: Acknowledge, CreatedDate: time.UnixMilli(-5)},
	} {
		if _, err := m.MarshalBinary(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{Type: OutputStreamData, SchemaVersion: 1, SequenceNumber: 0, Flags: FlagSYN, PayloadType: HandshakeRequest, Payload: []byte(`{"AgentVersion":"3.3.0.0"}`)},
		{Type: InputStreamData, SchemaVersion: 1, SequenceNumber: 1 << 40, PayloadType: Flag, Payload: FlagPayload(TerminateSession)},
		{Type: PausePublication, SchemaVersion: 1},
		{Type: "exactly-thirty-two-bytes-long-ab", SchemaVersion: 1, SequenceNumber: -1},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", m.Type, err)
		}
		if !equal(&m, &got) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

// channelClosed112 builds a service-style channel_closed: HeaderLength 112,
// NUL-padded type, no PayloadType, no digest.
func channelClosed112(payload []byte) []byte {
	b := make([]byte, 112+4+len(payload))
	be := binary.BigEndian
	be.PutUint32(b, 112)
	copy(b[4:], ChannelClosed)
	be.PutUint32(b[36:], 1)
	be.PutUint64(b[40:], 1700000000000)
	be.PutUint64(b[48:], 3)
	be.PutUint32(b[112:], uint32(len(payload)))
	copy(b[116:], payload)
	return b
}

func TestUnmarshalChannelClosed112(t *testing.T) {
	p, _ := json.Marshal(ChannelClosedPayload{SessionId: "s-1", MessageType: ChannelClosed, SchemaVersion: 1, Output: "Session s-1 timed out."})
	var m Message
	if err := m.UnmarshalBinary(channelClosed112(p)); err != nil {
		t.Fatal(err)
	}
	if m.Type != ChannelClosed || m.PayloadType != 0 || !bytes.Equal(m.Payload, p) {
		t.Fatalf("got %v", &m)
	}
	var cc ChannelClosedPayload
	if err := json.Unmarshal(m.Payload, &cc); err != nil || cc.Output != "Session s-1 timed out." {
		t.Fatalf("payload %+v %v", cc, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good, _ := (&Message{Type: OutputStreamData, Payload: []byte("data")}).MarshalBinary()
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 1
	longHL := bytes.Clone(good)
	binary.BigEndian.PutUint32(longHL, 200)
	smallHL := bytes.Clone(good)
	binary.BigEndian.PutUint32(smallHL, 100)
	hugeDate := bytes.Clone(good)
	binary.BigEndian.PutUint64(hugeDate[40:], 1<<63)
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"empty":           {nil, ErrShortFrame},
		"header only":     {good[:115], ErrShortFrame},
		"header length":   {longHL, ErrShortFrame},
		"small header":    {smallHL, nil},
		"digest":          {corrupt, ErrDigest},
		"date over range": {hugeDate, nil},
	} {
		var m Message
		err := m.UnmarshalBinary(tc.b)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestUnmarshalPublicationSkipsDigest(t *testing.T) {
	b, _ := (&Message{Type: StartPublication, Payload: []byte("x")}).MarshalBinary()
	b[80] ^= 1
	var m Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
}

func TestAck(t *testing.T) {
	data := &Message{Type: OutputStreamData, SequenceNumber: 42, MessageID: uuid.New()}
	ack, err := NewAck(data)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Type != Acknowledge || ack.Flags != 3 || ack.SequenceNumber != 0 {
		t.Fatalf("ack header %v", ack)
	}
	var raw map[string]any
	if err := json.Unmarshal(ack.Payload, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"AcknowledgedMessageType": OutputStreamData, "AcknowledgedMessageId": data.MessageID.String(),
		"AcknowledgedMessageSequenceNumber": float64(42), "IsSequentialMessage": true,
	}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %v, want %v", k, raw[k], v)
		}
	}
	a, err := ParseAck(ack)
	if err != nil || a.AcknowledgedMessageSequenceNumber != 42 {
		t.Fatalf("parse %+v %v", a, err)
	}
}

func TestFlag(t *testing.T) {
	p := FlagPayload(ConnectToPortError)
	if !bytes.Equal(p, []byte{0, 0, 0, 3}) {
		t.Fatalf("% x", p)
	}
	if f, err := ParseFlag(p); err != nil || f != ConnectToPortError {
		t.Fatal(f, err)
	}
	if _, err := ParseFlag([]byte{1}); err == nil {
		t.Fatal("short flag accepted")
	}
}

func TestHandshakeJSON(t *testing.T) {
	in := `{"AgentVersion":"3.3.0.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"5432","type":"LocalPortForwarding"}}}]}`
	var req HandshakeRequestPayload
	if err := json.Unmarshal([]byte(in), &req); err != nil {
		t.Fatal(err)
	}
	a := req.RequestedClientActions[0]
	if a.ActionType != ActionSessionType || a.ActionParameters.SessionType != "Port" || a.ActionParameters.Properties["type"] != "LocalPortForwarding" {
		t.Fatalf("%+v", req)
	}
	resp, _ := json.Marshal(HandshakeResponsePayload{
		ClientVersion:          "1.3.0.0",
		ProcessedClientActions: []ProcessedClientAction{{ActionType: ActionSessionType, ActionStatus: ActionSuccess}},
	})
	const want = `{"ClientVersion":"1.3.0.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}`
	if string(resp) != want {
		t.Fatalf("response\n got %s\nwant %s", resp, want)
	}
	var done HandshakeCompletePayload
	if err := json.Unmarshal([]byte(`{"HandshakeTimeToComplete":1500000,"CustomerMessage":"hi"}`), &done); err != nil || done.HandshakeTimeToComplete != 1500*time.Microsecond {
		t.Fatal(done, err)
	}
}

func equal(a, b *Message) bool {
	return a.Type == b.Type && a.SchemaVersion == b.SchemaVersion && a.CreatedDate.Equal(b.CreatedDate) &&
		a.SequenceNumber == b.SequenceNumber && a.Flags == b.Flags && a.MessageID == b.MessageID &&
		a.PayloadType == b.PayloadType && bytes.Equal(a.Payload, b.Payload)
}
