package wire

import (
	"encoding/json"
	"testing"
)

func FuzzUnmarshal(f *testing.F) {
	for _, m := range []*Message{
		{Type: OutputStreamData, SchemaVersion: 1, Flags: FlagSYN, PayloadType: HandshakeRequest, Payload: []byte(`{"AgentVersion":"3.3.0.0"}`)},
		{Type: Acknowledge, SchemaVersion: 1, Flags: 3, Payload: []byte(`{"AcknowledgedMessageSequenceNumber":1}`)},
		{Type: StartPublication},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p, _ := json.Marshal(ChannelClosedPayload{Output: "bye"})
	f.Add(channelClosed112(p))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			if len(m.Type) <= 32 && m.CreatedDate.UnixMilli() >= 0 {
				t.Fatalf("decoded message does not encode: %v", err)
			}
			return
		}
		var again Message
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !equal(&m, &again) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, m)
		}
		_, _ = ParseAck(&m)
		_, _ = ParseFlag(m.Payload)
	})
}
