package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/internal/migrate"
)

// migrateFlags are the flags of `gatehouse migrate`.
type migrateFlags struct {
	files         []string
	kubeconfig    string
	namespace     string
	allNamespaces bool
	outputDir     string
	reportFile    string
	opts          migrate.Options
}

func migrateCommand() *cobra.Command {
	f := &migrateFlags{opts: migrate.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "migrate [-f FILE|DIR]... [-o DIR]",
		Short: "Convert ingress-nginx Ingresses to a shared Gateway, ListenerSets and HTTPRoutes",
		Long: `Migrate reads networking.k8s.io/v1 Ingresses (and the Services they use, to
resolve named ports) from files, directories or a cluster and writes Gateway API
YAML: one shared Gateway for the platform team whose allowedListeners admits the
app namespaces, one ListenerSet per app namespace with its hostnames and TLS
Secrets, and HTTPRoutes attached to the ListenerSets. ingress-nginx annotations
with a Gateway API or Gatehouse equivalent are translated; every other
annotation is reported by name on stderr (and in --report). See docs/migrate.md.`,
		Example: `  gatehouse migrate -f ingresses/ -o gateway-api/ --report report.yaml
  kubectl get ingress,service -A -o yaml | gatehouse migrate -f -
  gatehouse migrate --kubeconfig ~/.kube/config --all-namespaces`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "filename", "f", nil, "Ingress/Service YAML or JSON file or directory (repeatable; - reads stdin); without it, Ingresses are read from the cluster")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for reading Ingresses from a cluster ($KUBECONFIG or in-cluster when empty)")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "namespace to read from the cluster (default: the kubeconfig context's)")
	fl.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "read Ingresses of every namespace from the cluster")
	fl.StringVarP(&f.outputDir, "output-dir", "o", "", "write one file per namespace plus platform.yaml to this directory instead of stdout")
	fl.StringVar(&f.reportFile, "report", "", "also write the migration report to this file (JSON if it ends in .json, else YAML)")
	fl.StringVar(&f.opts.GatewayName, "gateway-name", f.opts.GatewayName, "name of the shared Gateway")
	fl.StringVar(&f.opts.GatewayNamespace, "gateway-namespace", f.opts.GatewayNamespace, "namespace of the shared Gateway (the platform team's)")
	fl.StringVar(&f.opts.GatewayClass, "gateway-class", f.opts.GatewayClass, "gatewayClassName of the shared Gateway")
	fl.StringVar(&f.opts.ListenerSetName, "listenerset-name", f.opts.ListenerSetName, "name of the ListenerSet generated in each app namespace")
	fl.BoolVar(&f.opts.AllowAllNamespaces, "allow-all-namespaces", false, "let ListenerSets from every namespace attach (allowedListeners from All) instead of only the migrated namespaces")
	fl.Int32Var(&f.opts.HTTPPort, "http-port", f.opts.HTTPPort, "port of the HTTP listeners")
	fl.Int32Var(&f.opts.HTTPSPort, "https-port", f.opts.HTTPSPort, "port of the HTTPS listeners")
	fl.StringVar(&f.opts.IngressClass, "ingress-class", "", "migrate only Ingresses of this class (spec.ingressClassName or kubernetes.io/ingress.class); all when empty")
	return cmd
}

func runMigrate(ctx context.Context, f *migrateFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := f.opts.Validate(); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	var in migrate.Input
	var err error
	if len(f.files) > 0 {
		if f.kubeconfig != "" || f.namespace != "" || f.allNamespaces {
			return &exitError{code: 2, msg: "-f reads files; --kubeconfig, --namespace and --all-namespaces read a cluster: use one or the other"}
		}
		in, err = readMigrateFiles(f.files, stdin)
	} else {
		in, err = readMigrateCluster(ctx, f)
	}
	if err != nil {
		return err
	}
	res, rep, err := migrate.Migrate(in, f.opts)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if err := writeMigrateOutput(res, f.outputDir, stdout); err != nil {
		return err
	}
	if err := rep.WriteText(stderr); err != nil {
		return err
	}
	if f.reportFile != "" {
		return writeMigrateReport(rep, f.reportFile)
	}
	return nil
}

// readMigrateFiles reads files, directories (recursively: *.yaml, *.yml,
// *.json) and "-" (stdin). Any problem stops the migration: a partial input
// would produce a Gateway without some of the team's hostnames.
func readMigrateFiles(paths []string, stdin io.Reader) (migrate.Input, error) {
	var in migrate.Input
	var problems []string
	add := func(name string, data []byte) {
		got, ps := migrate.DecodeInput(name, data)
		in.Add(got)
		for _, p := range ps {
			problems = append(problems, p.Error())
		}
	}
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				return in, fmt.Errorf("-f -: %w", err)
			}
			add("<stdin>", data)
			continue
		}
		files, err := inputFiles(p)
		if err != nil {
			return in, fmt.Errorf("-f %s: %w", p, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				return in, fmt.Errorf("-f %s: %w", p, err)
			}
			add(file, data)
		}
	}
	if len(problems) > 0 {
		return in, &exitError{code: 2, msg: "the input has problems; nothing was written:\n  " + strings.Join(problems, "\n  ")}
	}
	return in, nil
}

func inputFiles(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{root}, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				out = append(out, path)
			}
		}
		return nil
	})
	sort.Strings(out)
	if err == nil && len(out) == 0 {
		err = errors.New("no .yaml, .yml or .json files")
	}
	return out, err
}

// readMigrateCluster lists Ingresses and Services from a cluster.
func readMigrateCluster(ctx context.Context, f *migrateFlags) (migrate.Input, error) {
	var in migrate.Input
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return in, fmt.Errorf("no -f given and no usable cluster config (--kubeconfig, $KUBECONFIG or in-cluster): %w", err)
	}
	ns := f.namespace
	switch {
	case f.allNamespaces:
		ns = metav1.NamespaceAll
	case ns == "":
		if ns, _, err = cc.Namespace(); err != nil {
			return in, fmt.Errorf("kubeconfig namespace: %w", err)
		}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return in, err
	}
	return listMigrateInput(ctx, cs, ns)
}

// listMigrateInput lists the Ingresses and Services of a namespace ("" for
// all).
func listMigrateInput(ctx context.Context, cs kubernetes.Interface, ns string) (migrate.Input, error) {
	var in migrate.Input
	ings, err := cs.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return in, fmt.Errorf("list Ingresses: %w", err)
	}
	svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return in, fmt.Errorf("list Services: %w", err)
	}
	for i := range ings.Items {
		in.Ingresses = append(in.Ingresses, &ings.Items[i])
	}
	for i := range svcs.Items {
		in.Services = append(in.Services, &svcs.Items[i])
	}
	return in, nil
}

func writeMigrateOutput(res *migrate.Result, dir string, stdout io.Writer) error {
	if dir == "" {
		out, err := migrate.RenderYAML(res.Objects())
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	files, err := res.Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-o %s: %w", dir, err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("-o %s: %w", dir, err)
		}
	}
	return nil
}

func writeMigrateReport(rep *migrate.Report, path string) error {
	var data []byte
	var err error
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		data, err = json.MarshalIndent(rep, "", "  ")
	} else {
		data, err = yaml.Marshal(rep)
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return nil
}
