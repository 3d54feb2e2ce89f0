/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
	"github.com/authly-dev/authly-operator/controllers"
	"github.com/authly-dev/authly-operator/controllers/capacity"
)

// leaderElectionID names the Lease the operator replicas elect their leader with.
const leaderElectionID = "authly-operator-lock.authly.dev"

// operatorOptions are the flags of `authly operator`.
type operatorOptions struct {
	metricsAddr  string
	probeAddr    string
	pprofAddr    string
	leaderElect  bool
	kubeconfig   string
	namespaces   []string
	image        string
	resyncPeriod time.Duration
	// observeInterval and stabilizationWindow tune the correction of capacity plans from
	// the load the pods observe.
	observeInterval     time.Duration
	stabilizationWindow time.Duration
	kubeAPIQPS          float32
	kubeAPIBurst        int
	zap                 zap.Options
}

func (o *operatorOptions) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", `address the controller metrics are served on; "0" disables them`)
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", `address net/http/pprof is served on, for profiling (hack/operatorbench); "" (the default) disables it`)
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader, so that only one of several operator replicas works at a time")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)")
	fs.StringSliceVar(&o.namespaces, "namespaces", nil, "comma-separated namespaces to watch (default: all)")
	fs.StringVar(&o.image, "image", os.Getenv("AUTHLY_IMAGE"), "image of the server pods; the default is $AUTHLY_IMAGE, else the image of the operator's own pod ($POD_NAME in $POD_NAMESPACE), else this operator's release image")
	fs.DurationVar(&o.observeInterval, "load-observe-interval", controllers.DefaultObserveInterval, "how often the request rate of capacity-mode AuthServers' pods is read and their plan corrected")
	fs.DurationVar(&o.stabilizationWindow, "scale-down-stabilization-window", capacity.DefaultStabilizationWindow, "how long a replica count raised by observed load is held before the plan may lower it again")
	fs.DurationVar(&o.resyncPeriod, "resync-period", 5*time.Minute, "how often OAuthClients and Scopes are compared with the database, to correct changes made there by hand")
	// client-go's defaults (5 requests/s, bursts of 10, when a kubeconfig sets none) hold a
	// reconcile of 1,000 OAuthClients (3 to 4 writes each, and events) to minutes.
	fs.Float32Var(&o.kubeAPIQPS, "kube-api-qps", 200, "requests per second the operator sends the API server at most (client-side limit; the API server's priority and fairness applies as well)")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 400, "requests the operator may send the API server in a burst above --kube-api-qps")
}

// releaseImage is the operator's published image, the server image of last resort.
func releaseImage() string { return "ghcr.io/authly-dev/authly:" + version() }

// ownImage is the image of the container this operator runs in, read from its own Pod
// (POD_NAME and POD_NAMESPACE come from the downward API in config/manager). The server pods
// run the operator's own image, so that both agree on the database schema, and so that a
// user who swaps the image with kustomize's `images:` or Helm swaps both at once. It returns
// "" outside a pod.
func ownImage(ctx context.Context, cs kubernetes.Interface, podName, namespace string) (string, error) {
	if podName == "" || namespace == "" {
		return "", nil
	}
	pod, err := cs.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read the operator's own pod %s/%s for its image (or set --image): %w", namespace, podName, err)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == operatorContainer {
			return c.Image, nil
		}
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Image, nil
	}
	return "", fmt.Errorf("the operator's pod %s/%s has no container %q to take the server image from (set --image)", namespace, podName, operatorContainer)
}

// operatorContainer is the operator's container in config/manager.
const operatorContainer = "manager"

// resolveImage fills in opts.image when neither --image nor $AUTHLY_IMAGE set it.
func (o *operatorOptions) resolveImage(ctx context.Context, cfg *rest.Config) error {
	if o.image != "" {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	img, err := ownImage(ctx, cs, os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE"))
	if err != nil {
		return err
	}
	if img == "" {
		img = releaseImage()
	}
	o.image = img
	return nil
}

// watchedNamespaces turns --namespaces into the cache's namespaces; nil means all.
func watchedNamespaces(list []string) map[string]cache.Config {
	var out map[string]cache.Config
	for _, ns := range list {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if out == nil {
			out = map[string]cache.Config{}
		}
		out[ns] = cache.Config{}
	}
	return out
}

// managerOptions are the controller manager's options from the flags.
func (o *operatorOptions) managerOptions(scheme *runtime.Scheme) ctrl.Options {
	return ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			DefaultNamespaces: watchedNamespaces(o.namespaces),
			// No reconciler reads managedFields, and they are a large part of every cached
			// OAuthClient and Secret: dropping them takes about 40% off the live heap with
			// 3,000 OAuthClients (an update without managedFields keeps the server's).
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	}
}

func newOperatorCommand() *cobra.Command {
	opts := &operatorOptions{}
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the Kubernetes operator (AuthServer, OAuthClient and Scope controllers)",
		Long: "Run the controller manager that reconciles AuthServers, OAuthClients and Scopes.\n" +
			"It runs the server pods from its own image (--image) with args [server].",
		Args: cobra.NoArgs,
	}
	opts.bind(cmd.Flags())
	zapFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	opts.zap.BindFlags(zapFlags)
	cmd.Flags().AddGoFlagSet(zapFlags)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runOperator(cmd, opts)
	}
	return cmd
}

// restConfig is the API server's configuration: from --kubeconfig when given, else as
// controller-runtime finds it (KUBECONFIG, in-cluster, ~/.kube/config), with the client-side
// rate limits of --kube-api-qps and --kube-api-burst.
func (o *operatorOptions) restConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	} else {
		cfg, err = ctrl.GetConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = o.kubeAPIQPS, o.kubeAPIBurst
	return cfg, nil
}

// eventRecorders makes the reconcilers' recorders of core/v1 Events, as the manager's
// deprecated GetEventRecorderFor does, on one broadcaster that stop flushes and ends.
func eventRecorders(cfg *rest.Config, scheme *runtime.Scheme) (recorder func(component string) record.EventRecorder, stop func(), err error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("events client: %w", err)
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return func(component string) record.EventRecorder {
		return b.NewRecorder(scheme, corev1.EventSource{Component: component})
	}, b.Shutdown, nil
}

// operatorGCPercent is the operator's garbage collection target unless GOGC says
// otherwise. Its heap is mostly informer caches that live as long as the process, and a
// pod is sized by its memory, not by the little CPU an idle operator spends collecting.
const operatorGCPercent = 50

func runOperator(cmd *cobra.Command, opts *operatorOptions) error {
	tuneGC(operatorGCPercent, cgroupMemoryMax)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	log := ctrl.Log.WithName("operator")

	cfg, err := opts.restConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := opts.resolveImage(cmd.Context(), cfg); err != nil {
		return err
	}
	mgr, cleanup, err := newOperatorManager(cfg, opts)
	if err != nil {
		return err
	}
	defer cleanup()
	log.Info("starting", "version", version(), "commit", buildCommit(), "image", opts.image,
		"namespaces", opts.namespaces, "leaderElection", opts.leaderElect)
	if err := mgr.Start(cmd.Context()); err != nil {
		return fmt.Errorf("run the manager: %w", err)
	}
	return nil
}

// newOperatorManager builds the controller manager with the three reconcilers and its
// health checks; `authly dev` runs the same one against its local control plane. cleanup
// releases the database pools and the event broadcaster after the manager stops.
func newOperatorManager(cfg *rest.Config, opts *operatorOptions) (mgr ctrl.Manager, cleanup func(), err error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, fmt.Errorf("register the client-go kinds: %w", err)
	}
	if err := authlyv1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	mgr, err = ctrl.NewManager(cfg, opts.managerOptions(scheme))
	if err != nil {
		return nil, nil, fmt.Errorf("controller manager: %w", err)
	}
	recorder, stopEvents, err := eventRecorders(cfg, scheme)
	if err != nil {
		return nil, nil, err
	}
	dbs := &controllers.Databases{}
	cleanup = func() {
		stopEvents()
		dbs.Close()
	}
	fail := func(what string, err error) (ctrl.Manager, func(), error) {
		cleanup()
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := (&controllers.AuthServerReconciler{
		Client:    mgr.GetClient(),
		Scheme:    mgr.GetScheme(),
		Recorder:  recorder("authserver-controller"),
		Databases: dbs,
		Image:     opts.image,
		Load: &controllers.PodLoadObserver{
			Reader: mgr.GetAPIReader(),
			// A rate needs two samples; never wait longer between them than between readings.
			MinSampleInterval: min(10*time.Second, opts.observeInterval),
		},
		ObserveInterval: opts.observeInterval,
		Autoscaler:      capacity.Autoscaler{StabilizationWindow: opts.stabilizationWindow},
	}).SetupWithManager(mgr); err != nil {
		return fail("the AuthServer controller", err)
	}
	clusterIssuer, err := controllers.NewClusterIssuer(mgr.GetConfig())
	if err != nil {
		return fail("the ServiceAccount issuer", err)
	}
	if err := (&controllers.OAuthClientReconciler{
		Client:        mgr.GetClient(),
		Scheme:        mgr.GetScheme(),
		Recorder:      recorder("oauthclient-controller"),
		Databases:     dbs,
		ResyncPeriod:  opts.resyncPeriod,
		ClusterIssuer: clusterIssuer,
	}).SetupWithManager(mgr); err != nil {
		return fail("the OAuthClient controller", err)
	}
	// Clients with a serviceAccountName: the cluster's ServiceAccount keys in each
	// AuthServer's database, refreshed periodically and when a server asks.
	if err := mgr.Add(&controllers.FederationSync{
		Client: mgr.GetClient(), Databases: dbs, Issuer: clusterIssuer,
	}); err != nil {
		return fail("the ServiceAccount issuer sync", err)
	}
	if err := (&controllers.ScopeReconciler{
		Client:       mgr.GetClient(),
		Scheme:       mgr.GetScheme(),
		Recorder:     recorder("scope-controller"),
		Databases:    dbs,
		ResyncPeriod: opts.resyncPeriod,
	}).SetupWithManager(mgr); err != nil {
		return fail("the Scope controller", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fail("health check", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fail("readiness check", err)
	}
	return mgr, cleanup, nil
}
