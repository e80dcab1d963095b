package podsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// serveKubelet serves the one kubelet API the harness needs: container logs,
// which the apiserver proxies for `kubectl logs` and GetLogs. The apiserver
// does not verify the kubelet certificate without
// --kubelet-certificate-authority, so a self-signed one is enough.
func (s *Simulator) serveKubelet() error {
	cert, err := selfSignedCert(s.cfg.KubeletAddr)
	if err != nil {
		return fmt.Errorf("podsim: kubelet certificate: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.KubeletAddr)
	if err != nil {
		return fmt.Errorf("podsim: kubelet listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.ServeTLS(ln, "", "")
	s.closers = append(s.closers, func() { srv.Close() })
	return nil
}

// serveLogs writes a container's captured stdout+stderr. tailLines and
// limitBytes are honoured; follow streams until the client goes away or the
// pod is torn down. sinceTime, sinceSeconds and timestamps are ignored: the
// log file carries no timestamps.
func (s *Simulator) serveLogs(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("namespace") + "/" + r.PathValue("pod")
	s.mu.Lock()
	p := s.running[key]
	s.mu.Unlock()
	if p == nil {
		http.Error(w, "pod "+key+" not running on this node", http.StatusNotFound)
		return
	}
	path := p.logPath(r.PathValue("container"))
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = nil, nil // container without a process, or not started
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
		data = lastLines(data, n)
	}
	if n, err := strconv.Atoi(q.Get("limitBytes")); err == nil && n >= 0 && n < len(data) {
		data = data[:n]
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(data)
	if q.Get("follow") != "true" {
		return
	}
	followFile(w, r, path, int64(len(data)), p.ctx.Done())
}

func followFile(w http.ResponseWriter, r *http.Request, path string, offset int64, gone <-chan struct{}) {
	flusher, _ := w.(http.Flusher)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-gone:
			return
		case <-tick.C:
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if _, err := f.Seek(offset, io.SeekStart); err == nil {
			n, _ := io.Copy(w, f)
			offset += n
		}
		f.Close()
	}
}

func lastLines(data []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return data[i+1:]
			}
		}
	}
	return data
}

func selfSignedCert(addr string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	host, _, _ := net.SplitHostPort(addr)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "gatehouse-podsim-kubelet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
