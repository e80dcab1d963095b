package podsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Config configures a Simulator. Zero values take the defaults below.
type Config struct {
	// Client talks to the cluster; required.
	Client kubernetes.Interface
	// Dir holds one directory per pod (volumes, logs); required.
	Dir string
	// Images maps an image repository (tag and digest ignored), or a full
	// image reference, to a local binary. Unmapped images run no process.
	Images map[string]string
	// NodeName of the fake node; default "gatehouse-node".
	NodeName string
	// Bridge is the name of the bridge created for pods; default "gh-br0".
	Bridge string
	// HostPrefix is the bridge address with the pod network's length;
	// default 10.244.0.1/16. Its address is what pods use to reach the host.
	HostPrefix netip.Prefix
	// LoadBalancerPool holds the IPs a LoadBalancer Service may ask for
	// (Gateway static addresses); default the /24 of HostPrefix's address,
	// which pods never get. The host address itself is excluded.
	LoadBalancerPool netip.Prefix
	// KubeletAddr is where the fake kubelet serves /containerLogs; the
	// node advertises its port. Default 127.0.0.1:10250.
	KubeletAddr string
	// APIServer, when set (host:port on loopback), is forwarded from
	// HostPrefix's address on the same port so that pods can reach the
	// apiserver; pods get KUBERNETES_SERVICE_HOST/PORT pointing there.
	APIServer string
	// Logger for the simulator's own messages; default discards.
	Logger *slog.Logger
}

// Simulator runs pods of one fake node as local processes. Create it with
// Start and release everything it created with Stop.
type Simulator struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	net    *network

	factory  informers.SharedInformerFactory
	pods     corelisters.PodLister
	services corelisters.ServiceLister
	podQ     workqueue.TypedRateLimitingInterface[string]
	svcQ     workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	running map[string]*podState // by namespace/name

	lb lbState // owned by the one Service worker

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closers  []func()
	stopOnce sync.Once
}

func (c *Config) setDefaults() error {
	if c.Client == nil || c.Dir == "" {
		return errors.New("podsim: Client and Dir are required")
	}
	if c.NodeName == "" {
		c.NodeName = "gatehouse-node"
	}
	if c.Bridge == "" {
		c.Bridge = "gh-br0"
	}
	if !c.HostPrefix.IsValid() {
		c.HostPrefix = netip.MustParsePrefix("10.244.0.1/16")
	}
	if !c.LoadBalancerPool.IsValid() {
		c.LoadBalancerPool = netip.PrefixFrom(c.HostPrefix.Addr(), 24).Masked()
	}
	if c.KubeletAddr == "" {
		c.KubeletAddr = "127.0.0.1:10250"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// HostIP is the address pods use to reach services on the host.
func (s *Simulator) HostIP() string { return s.cfg.HostPrefix.Addr().String() }

// NodeName is the name of the fake node pods are bound to.
func (s *Simulator) NodeName() string { return s.cfg.NodeName }

// Start creates the bridge, the node and the fake kubelet, then runs the
// pod and service loops until Stop. It returns once the caches are synced.
func Start(ctx context.Context, cfg Config) (*Simulator, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Simulator{
		cfg: cfg, client: cfg.Client, log: cfg.Logger,
		net:     newNetwork(cfg.Bridge, cfg.HostPrefix),
		running: map[string]*podState{},
		ctx:     runCtx, cancel: cancel,
		podQ: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		svcQ: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Simulator) start(ctx context.Context) error {
	if err := s.net.setUp(ctx); err != nil {
		return err
	}
	s.closers = append(s.closers, func() { s.net.tearDown(context.Background()) })
	if s.cfg.APIServer != "" {
		if err := s.forwardAPIServer(); err != nil {
			return err
		}
	}
	if err := s.serveKubelet(); err != nil {
		return err
	}
	if err := s.registerNode(ctx); err != nil {
		return err
	}
	s.factory = informers.NewSharedInformerFactory(s.client, 0)
	podInf := s.factory.Core().V1().Pods()
	svcInf := s.factory.Core().V1().Services()
	s.pods, s.services = podInf.Lister(), svcInf.Lister()
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, o any) { s.onPod(o) },
		DeleteFunc: s.onPod,
	}); err != nil {
		return err
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueueService,
		UpdateFunc: func(_, o any) { s.enqueueService(o) },
		DeleteFunc: s.enqueueService, // releases its load-balancer IPs
	}); err != nil {
		return err
	}
	s.factory.Start(s.ctx.Done())
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("podsim: cache for %v did not sync", typ)
		}
	}
	for range 4 {
		s.goLoop(func() { s.worker(s.podQ, s.syncPod) })
	}
	s.goLoop(func() { s.worker(s.svcQ, s.syncService) })
	return nil
}

func (s *Simulator) goLoop(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

func (s *Simulator) onPod(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		s.podQ.Add(key)
	}
	if p, ok := obj.(*corev1.Pod); ok {
		s.enqueueServicesOf(p.Namespace)
	} else if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		if p, ok := t.Obj.(*corev1.Pod); ok {
			s.enqueueServicesOf(p.Namespace)
		}
	}
}

func (s *Simulator) worker(q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		if err := sync(s.ctx, key); err != nil && s.ctx.Err() == nil {
			s.log.Warn("sync failed, retrying", "key", key, "err", err)
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

// Stop kills every pod process, deletes the namespaces and the bridge and
// stops the fake kubelet. Pods stay in the API; the cluster goes with them.
func (s *Simulator) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.podQ.ShutDown()
		s.svcQ.ShutDown()
		s.wg.Wait()
		if s.factory != nil {
			s.factory.Shutdown()
		}
		s.mu.Lock()
		pods := s.running
		s.running = map[string]*podState{}
		s.mu.Unlock()
		for _, p := range pods {
			s.teardownPod(context.Background(), p)
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	})
}

// forwardAPIServer relays TCP from the host address on the bridge to the
// apiserver on loopback, which pods cannot reach from their namespaces.
func (s *Simulator) forwardAPIServer() error {
	_, port, err := net.SplitHostPort(s.cfg.APIServer)
	if err != nil {
		return fmt.Errorf("podsim: APIServer %q: %w", s.cfg.APIServer, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.HostIP(), port))
	if err != nil {
		return fmt.Errorf("podsim: apiserver relay: %w", err)
	}
	s.closers = append(s.closers, func() { ln.Close() })
	go relay(ln, s.cfg.APIServer)
	return nil
}

func relay(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { copyConn(u, c); done <- struct{}{} }()
			go func() { copyConn(c, u); done <- struct{}{} }()
			<-done
		}()
	}
}

func copyConn(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
