package platform

import (
	"fmt"
	"net"
	"sync"
)

// reserved holds the ports handed out by this process and not yet released,
// across all Local platforms, so two instances started in the same moment
// never get the same port (the kernel may return a just-closed port again).
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePort picks a free TCP port on 127.0.0.1 and reserves it until
// releasePort. The port is free when picked; another program could still
// take it before the instance binds it, in which case the instance fails to
// start and supervision reports it.
func freePort() (int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	for range 50 { // bounded: a collision with our own reservation is rare
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !reserved.ports[port] {
			reserved.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("pick a free port: every port offered was already reserved")
}

// releasePort makes port available to freePort again.
func releasePort(port int) {
	reserved.Lock()
	delete(reserved.ports, port)
	reserved.Unlock()
}
