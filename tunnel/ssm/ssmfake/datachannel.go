package ssmfake

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// Websocket timing of the service.
const (
	tokenTimeout = 30 * time.Second
	pingInterval = 54 * time.Second
	pongTimeout  = 60 * time.Second
	writeTimeout = 5 * time.Second
)

// serveDataChannel is one websocket of session id: the token check, then
// frames in both directions until the websocket or the session ends.
func (s *Service) serveDataChannel(w http.ResponseWriter, r *http.Request, id string) {
	ss := s.lookup(id)
	if ss == nil {
		http.Error(w, "session "+id+" not found", http.StatusNotFound)
		return
	}
	// The service refuses an upgrade not signed for ssmmessages in the
	// session's region before any websocket exists, with a 403.
	if err := checkDataChannelScope(r, ss.region); err != nil {
		s.stats.authRejected.Add(1)
		s.log.Debug("ssmfake: websocket upgrade refused", "session", id, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
		OnPingReceived: func(context.Context, []byte) bool {
			s.stats.pingsIn.Add(1)
			return !s.Faults().IgnorePings
		},
	})
	if err != nil {
		return
	}
	c.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	defer func() { _ = c.CloseNow() }()

	// First frame: text, the token. The service does not answer it.
	tctx, tcancel := context.WithTimeout(ctx, tokenTimeout)
	typ, b, err := c.Read(tctx)
	tcancel()
	if err != nil {
		return
	}
	var open wire.OpenDataChannelInput
	if typ != websocket.MessageText || json.Unmarshal(b, &open) != nil || !ss.useToken(open.TokenValue) {
		s.stats.tokenRejected.Add(1)
		s.log.Debug("ssmfake: websocket token rejected", "session", id)
		_ = c.Close(websocket.StatusPolicyViolation, "invalid token")
		return
	}
	ws := &wsConn{svc: s, s: ss, c: c, ctx: ctx, cancel: cancel, notify: make(chan struct{}, 1)}
	s.wg.Add(1)
	go ws.writeLoop()
	if !ss.attach(ws) {
		_ = c.Close(websocket.StatusNormalClosure, "session terminated")
		return
	}
	s.stats.websockets.Add(1)
	s.log.Debug("ssmfake: websocket attached", "session", id, "clientVersion", open.ClientVersion)
	s.wg.Add(1)
	go ws.pingLoop()
	if bye := s.Faults().ByeEvery; bye > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTimer(bye)
			defer t.Stop()
			select {
			case <-t.C:
				ws.bye()
			case <-ctx.Done():
			}
		}()
	}
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			break
		}
		if typ == websocket.MessageBinary {
			ss.receive(ws, b)
		}
	}
	ss.detach(ws)
	s.log.Debug("ssmfake: websocket detached", "session", id)
}

// wsConn is one websocket of a session. Frames leave through a queue
// ordered by due time, which is how delay and reordering are injected.
type wsConn struct {
	svc    *Service
	s      *session
	c      *websocket.Conn
	ctx    context.Context // cancelled when the websocket is done
	cancel context.CancelFunc

	mu      sync.Mutex
	q       []queued
	final   []byte // channel_closed: sent next, then the websocket is closed
	notify  chan struct{}
	byeOnce sync.Once

	heldIn *wire.Message // a received message held back (reorder fault); guarded by s.mu
}

type queued struct {
	due   time.Time
	frame []byte
}

func (w *wsConn) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// enqueue schedules a frame to leave after delay. It never blocks.
func (w *wsConn) enqueue(frame []byte, delay time.Duration) {
	w.mu.Lock()
	due := time.Now().Add(delay)
	i := sort.Search(len(w.q), func(i int) bool { return w.q[i].due.After(due) })
	w.q = append(w.q, queued{})
	copy(w.q[i+1:], w.q[i:])
	w.q[i] = queued{due: due, frame: frame}
	w.mu.Unlock()
	w.wake()
}

// finish sends frame ahead of anything queued, then closes the websocket
// normally.
func (w *wsConn) finish(frame []byte) {
	w.mu.Lock()
	w.final = frame
	w.mu.Unlock()
	w.wake()
}

// closeNow drops the websocket without a close handshake.
func (w *wsConn) closeNow() { w.cancel() }

// bye closes the websocket with 1000 "Bye", as the service does hourly.
func (w *wsConn) bye() {
	w.byeOnce.Do(func() {
		if !w.svc.track() {
			return
		}
		w.svc.stats.byes.Add(1)
		go func() {
			defer w.svc.wg.Done()
			_ = w.c.Close(websocket.StatusNormalClosure, "Bye")
			w.cancel()
		}()
	})
}

func (w *wsConn) writeLoop() {
	defer w.svc.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.mu.Lock()
		if final := w.final; final != nil {
			w.final = nil
			w.mu.Unlock()
			ctx, cancel := context.WithTimeout(w.ctx, writeTimeout)
			_ = w.c.Write(ctx, websocket.MessageBinary, final)
			cancel()
			_ = w.c.Close(websocket.StatusNormalClosure, "")
			w.cancel()
			return
		}
		var frame []byte
		wait := time.Duration(-1)
		if len(w.q) > 0 {
			if d := time.Until(w.q[0].due); d <= 0 {
				frame = w.q[0].frame
				w.q[0] = queued{}
				w.q = w.q[1:]
			} else {
				wait = d
			}
		}
		w.mu.Unlock()
		if frame != nil {
			if err := w.c.Write(w.ctx, websocket.MessageBinary, frame); err != nil {
				w.cancel()
				return
			}
			continue
		}
		var tc <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-w.notify:
		case <-tc:
		case <-w.ctx.Done():
			return
		}
		timer.Stop()
	}
}

// pingLoop pings like the agent side does (every 54 s, 60 s for the pong).
func (w *wsConn) pingLoop() {
	defer w.svc.wg.Done()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(w.ctx, pongTimeout)
			err := w.c.Ping(ctx)
			cancel()
			if err != nil {
				w.cancel()
				return
			}
		}
	}
}

// controlFrame is a header-only service message: pause_publication or
// start_publication.
func controlFrame(typ string) []byte {
	m := wire.Message{Type: typ, SchemaVersion: 1}
	b, _ := m.MarshalBinary()
	return b
}

// channelClosedFrame builds channel_closed the way the service does: a
// 112-byte header (no PayloadType), the message type padded with NULs.
func channelClosedFrame(sessionID, output string) []byte {
	id := uuid.New()
	now := time.Now().UTC()
	payload, _ := json.Marshal(struct {
		MessageId     string //nolint:revive // wire name
		CreatedDate   string
		DestinationId string //nolint:revive // wire name
		SessionId     string //nolint:revive // wire name
		MessageType   string
		SchemaVersion int
		Output        string
	}{id.String(), now.Format("2006-01-02T15:04:05.000Z"), sessionID, sessionID, wire.ChannelClosed, 1, output})
	const hl = 112
	b := make([]byte, hl+4+len(payload))
	be := binary.BigEndian
	be.PutUint32(b[0:], hl)
	copy(b[4:36], wire.ChannelClosed) // the rest stays NUL
	be.PutUint32(b[36:], 1)
	be.PutUint64(b[40:], uint64(now.UnixMilli()))
	// Sequence number and flags: 0.
	copy(b[64:72], id[8:])
	copy(b[72:80], id[:8])
	digest := sha256.Sum256(payload)
	copy(b[80:112], digest[:])
	be.PutUint32(b[hl:], uint32(len(payload)))
	copy(b[hl+4:], payload)
	return b
}
