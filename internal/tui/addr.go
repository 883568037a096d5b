package tui

import "net"

func tcpAddr(a net.Addr) (*net.TCPAddr, bool) {
	t, ok := a.(*net.TCPAddr)
	return t, ok
}
