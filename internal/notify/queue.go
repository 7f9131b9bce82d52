package notify

import "sync"

// queue is a bounded FIFO that never blocks the producer: when full, the
// oldest message is dropped, because for a person watching a release the
// newest news matters most.
type queue struct {
	mu      sync.Mutex
	buf     []message // ring buffer
	head, n int
	ready   chan struct{} // holds a token while the queue may be non-empty
}

func newQueue(size int) *queue {
	return &queue{buf: make([]message, size), ready: make(chan struct{}, 1)}
}

// push adds m and reports whether an older message was dropped to make room.
func (q *queue) push(m message) (dropped bool) {
	q.mu.Lock()
	if q.n == len(q.buf) {
		q.buf[q.head] = message{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		dropped = true
	}
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return dropped
}

// pop removes the oldest message, if any.
func (q *queue) pop() (message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return message{}, false
	}
	m := q.buf[q.head]
	q.buf[q.head] = message{} // let the event's memory go
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return m, true
}

// len is the number of queued messages.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
