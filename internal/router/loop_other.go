//go:build !linux

package router

import "net"

// evLoop is the event loop of loop.go, which needs epoll: elsewhere
// every connection gets a goroutine.
type evLoop struct{}

func startEvLoops(*h1Server, net.Listener) []*evLoop { return nil }

func (*evLoop) adopt(net.Conn) bool { return false }

func (*evLoop) shutdown(bool) {}
