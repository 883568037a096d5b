// Command msgcodec runs the official session-manager-plugin's frame codec
// (package src/message) for the codec cross-check of ssmfake:
//
//	msgcodec encode   reads JSON lines of Frame fields (no Hex), prints each
//	                  with Hex set to the plugin's serialization (or Valid
//	                  set to its error)
//	msgcodec decode   reads JSON lines with Hex, prints each decoded by the
//	                  plugin (Valid reports its Validate result)
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/session-manager-plugin/src/log"
	"github.com/aws/session-manager-plugin/src/message"
	"github.com/twinj/uuid"
)

// Frame is one message as both sides of the cross-check describe it.
type Frame struct {
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
	Valid          string                      `json:",omitempty"`
	Ack            *message.AcknowledgeContent `json:",omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: msgcodec encode|decode")
		os.Exit(2)
	}
	uuid.SwitchFormat(uuid.CleanHyphen)
	logger := log.NewMockLog()
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	os.Stdout = os.Stderr // the plugin's mock logger prints
	for in.Scan() {
		var f Frame
		if err := json.Unmarshal(in.Bytes(), &f); err != nil {
			fail(err)
		}
		switch os.Args[1] {
		case "encode":
			raw, err := hex.DecodeString(strings.ReplaceAll(f.MessageID, "-", ""))
			if err != nil || len(raw) != 16 {
				fail(fmt.Errorf("bad MessageID %q", f.MessageID))
			}
			id := uuid.New(raw)
			m := message.ClientMessage{
				MessageType:    f.MessageType,
				SchemaVersion:  f.SchemaVersion,
				CreatedDate:    f.CreatedDate,
				SequenceNumber: f.SequenceNumber,
				Flags:          f.Flags,
				MessageId:      id,
				PayloadType:    f.PayloadType,
				Payload:        f.Payload,
			}
			b, err := m.SerializeClientMessage(logger)
			if err != nil {
				// E.g. an empty payload, which the plugin cannot serialize.
				f.Valid = err.Error()
				break
			}
			f.Hex = hex.EncodeToString(b)
			f.HeaderLength, f.PayloadLength = m.HeaderLength, m.PayloadLength
		case "decode":
			b, err := hex.DecodeString(f.Hex)
			if err != nil {
				fail(err)
			}
			var m message.ClientMessage
			if err := m.DeserializeClientMessage(logger, b); err != nil {
				fail(err)
			}
			f = Frame{
				Hex:            f.Hex,
				HeaderLength:   m.HeaderLength,
				MessageType:    m.MessageType,
				SchemaVersion:  m.SchemaVersion,
				CreatedDate:    m.CreatedDate,
				SequenceNumber: m.SequenceNumber,
				Flags:          m.Flags,
				MessageID:      m.MessageId.String(),
				PayloadType:    m.PayloadType,
				PayloadLength:  m.PayloadLength,
				Payload:        m.Payload,
				Valid:          "ok",
			}
			if err := m.Validate(); err != nil {
				f.Valid = err.Error()
			}
			if m.MessageType == message.AcknowledgeMessage {
				ack, err := m.DeserializeDataStreamAcknowledgeContent(logger)
				if err != nil {
					fail(err)
				}
				f.Ack = &ack
			}
		default:
			fail(fmt.Errorf("unknown mode %q", os.Args[1]))
		}
		if err := out.Encode(f); err != nil {
			fail(err)
		}
	}
	if err := in.Err(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "msgcodec:", err)
	os.Exit(1)
}
