package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/wire"
)

// The work pool (reliable delivery; the "work" link): the generator binds a
// ROUTER, each extractor connects a DEALER and says how many frames it wants
// (wire.Ready) whenever that changes and every readyInterval, and the
// generator sends each frame to one extractor that wants one. Frames wait at
// the generator, not in a queue in front of busy workers; a faster extractor
// asks more often and takes more; one that falls silent (dead, stopped,
// cut off) for peerSilence loses its frames to the others.

// Pool timing. An extractor repeats its Ready every readyInterval, so a
// generator that hears nothing from it for peerSilence (several intervals:
// a loaded machine delays a few) takes it for gone.
const (
	readyInterval = 500 * time.Millisecond
	peerSilence   = 3 * time.Second
)

// poolMaxMsgSize is the generator's pool socket's ZMQ_MAXMSGSIZE.
const poolMaxMsgSize = 4 << 10

// router is the generator's pool socket (a *bus.Socket from Router).
type router interface {
	RecvFrom(buf []byte, timeout time.Duration) (id, msg []byte, err error)
	SendTo(id, msg []byte) error
}

// poolPeer is one extractor connection the generator has heard from.
type poolPeer struct {
	id      string
	session uint64
	want    uint32    // frames it wants in hand, as of its last Ready
	got     uint64    // frames it had received, as of its last Ready
	sent    uint64    // frames sent to it, counted from the same origin as got
	heard   time.Time // its last Ready
	last    time.Time // the last frame sent to it
}

// credit is how many more frames the peer may be sent now: what it wants,
// less what is on its way to it.
func (p *poolPeer) credit() int {
	transit := int64(p.sent) - int64(p.got)
	return int(int64(p.want) - max(transit, 0))
}

// workPool is the generator's side of the pool. It is used by the
// generator's goroutine only.
type workPool struct {
	sock    router
	log     *slog.Logger
	c       *counters
	bad     *limiter
	peers   map[string]*poolPeer
	buf     []byte
	idle    time.Time // since when no peer has been live; zero while one is
	checked time.Time // the last expire
}

func newWorkPool(sock router, c *counters, bad *limiter, log *slog.Logger) *workPool {
	return &workPool{sock: sock, log: log, c: c, bad: bad, peers: map[string]*poolPeer{}, idle: time.Now()}
}

// recv reads the Ready messages waiting, waiting up to wait for the first;
// it reports whether any came.
func (p *workPool) recv(wait time.Duration) bool {
	any := false
	for {
		id, msg, err := p.sock.RecvFrom(p.buf, wait)
		if errors.Is(err, bus.ErrTimeout) {
			return any
		}
		wait = 0
		if err != nil {
			skip(p.c, p.bad, p.log, "message skipped on the work pool", err)
			continue
		}
		p.buf = msg
		r, err := wire.DecodeReady(msg)
		if err != nil {
			skip(p.c, p.bad, p.log, "bad message on the work pool skipped", fmt.Errorf("bad ready message: %w", err), "bytes", len(msg))
			continue
		}
		p.onReady(string(id), r, time.Now())
		any = true
	}
}

func (p *workPool) onReady(id string, r *wire.Ready, now time.Time) {
	peer := p.peers[id]
	if peer == nil || peer.session != r.Session {
		// A new extractor, or one back after being taken for gone: what
		// it received before counts as sent, so nothing is on its way.
		if peer == nil {
			p.log.Info("extractor joined the work pool", "session", fmt.Sprintf("%016x", r.Session), "wants", r.Want)
		}
		peer = &poolPeer{id: id, session: r.Session, sent: r.Got}
		p.peers[id] = peer
	}
	peer.want, peer.got, peer.heard = r.Want, r.Got, now
	p.idle = time.Time{}
}

// expire forgets the peers not heard from for peerSilence and returns their
// ids: the frames they hold are to go to others.
func (p *workPool) expire(now time.Time) []string {
	// Time the generator itself did not run (stopped with its pipeline, as
	// the bench does by turns, or starved) does not count against a peer:
	// its READYs are waiting to be read.
	if gap := now.Sub(p.checked); !p.checked.IsZero() && gap > 2*readyInterval {
		for _, peer := range p.peers {
			peer.heard = peer.heard.Add(gap)
		}
	}
	p.checked = now
	var gone []string
	for id, peer := range p.peers {
		if now.Sub(peer.heard) >= peerSilence {
			gone = append(gone, id)
			delete(p.peers, id)
			p.log.Warn("extractor silent; its frames go to the others", "session", fmt.Sprintf("%016x", peer.session),
				"silent", now.Sub(peer.heard).Truncate(time.Millisecond))
		}
	}
	if len(p.peers) == 0 && p.idle.IsZero() {
		p.idle = now
	}
	return gone
}

// live reports whether an extractor is in the pool.
func (p *workPool) live() bool { return len(p.peers) > 0 }

// idleFor is how long the pool has had no extractor; 0 while it has one.
func (p *workPool) idleFor(now time.Time) time.Duration {
	if p.idle.IsZero() {
		return 0
	}
	return now.Sub(p.idle)
}

// free returns the peer to send the next frame to: the one with the most
// credit, the least recently served among equals; nil when none has credit.
func (p *workPool) free() *poolPeer {
	var best *poolPeer
	for _, peer := range p.peers {
		c := peer.credit()
		if c <= 0 {
			continue
		}
		if best == nil || c > best.credit() || (c == best.credit() && peer.last.Before(best.last)) {
			best = peer
		}
	}
	return best
}

// send gives msg to a free peer and returns its id; "" when no peer could
// take it (none free, or the one chosen has just gone).
func (p *workPool) send(msg []byte, now time.Time) string {
	for {
		peer := p.free()
		if peer == nil {
			return ""
		}
		if err := p.sock.SendTo([]byte(peer.id), msg); err != nil {
			// Gone, or its queue full: not a peer to send to until it
			// says so again.
			p.log.Info("extractor cannot take a frame; trying another", "err", err)
			peer.want = 0
			continue
		}
		peer.sent++
		peer.last = now
		return peer.id
	}
}

// poolClient is the extractor's side of the pool: it owns the DEALER and
// asks for frames as its workers free up.
type poolClient struct {
	sock    dealer
	session uint64
	want    int           // frames in hand it asks for: workers + prefetch
	held    *atomic.Int64 // frames in hand (the extractor's count)
	got     uint64        // frames received on the pool
	sentAt  time.Time     // last Ready
	said    wire.Ready    // what it said last
}

// dealer is the extractor's pool socket (a *bus.Socket from Dealer).
type dealer interface {
	FrameSource
	FrameSink
	Wake()
}

// ask sends a Ready when what the extractor wants has changed, or
// readyInterval after the last one: the heartbeat.
func (p *poolClient) ask(now time.Time) {
	r := wire.Ready{Session: p.session, Got: p.got,
		Want: uint32(min(max(p.want-int(p.held.Load()), 0), wire.MaxReadyWant))}
	if r == p.said && now.Sub(p.sentAt) < readyInterval {
		return
	}
	msg, _ := r.MarshalBinary() // Want is within bounds
	if err := p.sock.Send(msg); err != nil {
		return // no generator connected yet, or it is slow: the next one says the same
	}
	p.said, p.sentAt = r, now
}

// receivePool takes frames from the work pool until ctx ends, asking for
// them as workers free up. It owns the pool socket.
func (e *extractor) receivePool(ctx context.Context, p *poolClient) {
	for ctx.Err() == nil {
		p.ask(time.Now())
		buf := e.inBufs.get()
		msg, err := p.sock.RecvInto(buf, readyInterval)
		if err != nil {
			e.inBufs.put(buf)
			if !errors.Is(err, bus.ErrTimeout) {
				skip(e.c, &e.bad, e.log, "message skipped", err)
			}
			continue
		}
		p.got++
		e.take(ctx, msg)
	}
	// Tell the generator at once that this one wants nothing more.
	p.want = 0
	p.said = wire.Ready{}
	p.ask(time.Now())
}

// sortedSeqs returns the window's sequence numbers in order.
func sortedSeqs(window map[uint64]*inflight) []uint64 {
	seqs := make([]uint64, 0, len(window))
	for s := range window {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return seqs
}

// openPool opens the extractor's pool socket on cfg.Work. Its receive queue
// holds what it asks for; a frame is megabytes, so the limit is the
// message bound of every frame link.
func openPool(rt *stageRuntime, cfg ExtractorConfig) (*poolClient, error) {
	sock, err := rt.keep(rt.zctx.Dealer(cfg.Work, bus.Options{HWM: cfg.Workers + max(cfg.Prefetch, 0) + 1}))
	if err != nil {
		return nil, err
	}
	return &poolClient{sock: sock, session: randomID(), want: cfg.Workers + max(cfg.Prefetch, 0)}, nil
}

// openPool opens the generator's pool socket on cfg.Work, and hands the
// ack socket to a goroutine of its own that wakes the pool's wait (see
// receive). It returns what ends that goroutine.
func (g *generator) openPool(rt *stageRuntime) (stop func(), err error) {
	// Ready messages only: a peer sending anything larger is cut off. The
	// limit applies to the handshake's commands too, and CURVE's INITIATE
	// is some 300 bytes: 4 KiB leaves room.
	sock, err := rt.keep(rt.zctx.Router(g.cfg.Work, bus.Options{HWM: max(g.cfg.Window, 8), MaxMsgSize: poolMaxMsgSize}))
	if err != nil {
		return nil, err
	}
	g.pool = newWorkPool(sock, g.c, &g.bad, g.log)
	g.acked = make(chan []byte, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			msg, err := g.ack.RecvInto(nil, StatusInterval)
			if errors.Is(err, bus.ErrTimeout) {
				continue
			}
			if err != nil {
				skip(g.c, &g.bad, g.log, "message skipped", err)
				continue
			}
			select {
			case g.acked <- msg:
				sock.Wake()
			case <-ctx.Done():
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// receive takes in the acknowledgements and, with a pool, the extractors'
// Ready messages waiting, waiting up to wait for the first of either.
func (g *generator) receive(wait time.Duration) {
	if g.pool == nil {
		for {
			msg, err := g.ack.RecvInto(nil, wait)
			if errors.Is(err, bus.ErrTimeout) {
				return
			}
			wait = 0
			if err != nil {
				skip(g.c, &g.bad, g.log, "message skipped", err)
				continue
			}
			g.onAck(msg)
		}
	}
	if len(g.acked) > 0 {
		wait = 0
	}
	g.pool.recv(wait) // an acknowledgement wakes it
	for {
		select {
		case msg := <-g.acked:
			g.onAck(msg)
		default:
			return
		}
	}
}

// pooled reports whether frames go to the work pool: it has an extractor,
// or had one less than peerSilence ago (one restarting comes back). Without
// one for longer, a reliable generator publishes, as it does without a
// pool: for seed-protocol extractors, which only subscribe.
func (g *generator) pooled(now time.Time) bool {
	return g.pool != nil && (g.pool.live() || g.pool.idleFor(now) < peerSilence)
}

// dispatch sends msg to a free extractor of the pool, or publishes it when
// the pool is not in use (pooled). It returns the extractor's id and when
// it was sent: zero when no extractor could take it.
func (g *generator) dispatch(msg []byte, now time.Time) (peer string, sent time.Time) {
	if g.pooled(now) {
		if peer = g.pool.send(msg, now); peer == "" {
			return "", time.Time{}
		}
		return peer, now
	}
	if err := g.pub.Send(msg); err != nil {
		g.c.fail(err)
	}
	return "", now
}

// expirePeers forgets the pool's silent extractors and makes the frames
// they held due now, for the others.
func (g *generator) expirePeers(now time.Time) {
	if g.pool == nil {
		return
	}
	for _, id := range g.pool.expire(now) {
		for _, f := range g.window {
			if f.peer == id {
				f.peer, f.sent = "", time.Time{}
			}
		}
	}
}
