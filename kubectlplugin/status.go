/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package kubectlplugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authlyv1 "github.com/authly-dev/authly-operator/api/v1"
)

func newStatusCommand(cfg *Config) *cobra.Command {
	printFlags := genericclioptions.NewJSONYamlPrintFlags()
	var output string
	cmd := &cobra.Command{
		Use:   "status [AUTHSERVER]",
		Short: "Show an AuthServer's replicas, capacity plan, observed load, database, conditions and endpoints",
		Long: `Show an AuthServer's replicas (ready and planned), its capacity plan and what limits it, the
request rate observed on its pods, its database and schema version, its conditions and its
endpoints. Without a name, every AuthServer in the namespace.

-o json or -o yaml prints the AuthServer objects themselves (a List without a name).`,
		Example: `  kubectl authly status main -n team-a
  kubectl authly status -n team-a -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var printer printers.ResourcePrinter
			if output != "" {
				p, err := printFlags.ToPrinter(output)
				if err != nil {
					return fmt.Errorf("--output %q: want one of %s", output, strings.Join(printFlags.AllowedFormats(), ", "))
				}
				printer = p
			}
			c, err := cfg.connect()
			if err != nil {
				return err
			}
			servers, err := getAuthServers(cmd.Context(), c, args)
			if err != nil {
				return err
			}
			if printer != nil {
				return printObjects(cmd.OutOrStdout(), printer, servers, len(args) == 0)
			}
			if len(servers) == 0 {
				_, err := fmt.Fprintf(cmd.OutOrStdout(), "No AuthServers in namespace %s.\n", c.namespace)
				return err
			}
			for i := range servers {
				if i > 0 {
					if _, err := fmt.Fprintln(cmd.OutOrStdout()); err != nil {
						return err
					}
				}
				if err := writeStatus(cmd.OutOrStdout(), &servers[i], cfg.now()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (the AuthServer objects). Default: a table.")
	return cmd
}

// getAuthServers reads the named AuthServer, or every one in the namespace by name.
func getAuthServers(ctx context.Context, c *clients, args []string) ([]authlyv1.AuthServer, error) {
	if len(args) == 1 {
		var as authlyv1.AuthServer
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: c.namespace, Name: args[0]}, &as); err != nil {
			return nil, fmt.Errorf("get AuthServer %s: %w", args[0], err)
		}
		return []authlyv1.AuthServer{as}, nil
	}
	var list authlyv1.AuthServerList
	if err := c.client.List(ctx, &list, client.InNamespace(c.namespace)); err != nil {
		return nil, fmt.Errorf("list AuthServers: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b authlyv1.AuthServer) int { return strings.Compare(a.Name, b.Name) })
	return list.Items, nil
}

// printObjects prints the AuthServers with their apiVersion and kind, as kubectl get does:
// one object, or a List when no name was given.
func printObjects(out io.Writer, p printers.ResourcePrinter, servers []authlyv1.AuthServer, asList bool) error {
	gvk := authlyv1.GroupVersion.WithKind("AuthServer")
	for i := range servers {
		servers[i].SetGroupVersionKind(gvk)
	}
	if !asList {
		return p.PrintObj(&servers[0], out)
	}
	list := &metav1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for i := range servers {
		list.Items = append(list.Items, runtime.RawExtension{Object: &servers[i]})
	}
	return p.PrintObj(list, out)
}

// writeStatus writes one AuthServer's status as a person reads it.
func writeStatus(out io.Writer, as *authlyv1.AuthServer, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	st := &as.Status
	row := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	row("AuthServer:\t%s/%s", as.Namespace, as.Name)
	row("Issuer:\t%s", as.Spec.Issuer)
	row("Mode:\t%s", mode(as))
	row("Replicas:\t%d ready / %d planned", st.ReadyReplicas, st.Replicas)
	row("Generation:\t%d (status describes %d)", as.Generation, st.ObservedGeneration)

	row("")
	row("Capacity plan:")
	cs := st.Capacity
	if cs == nil {
		row("  (none yet: the operator has not planned this AuthServer)")
	} else {
		if as.Spec.Capacity != nil {
			row("  Declared load:\t%s requests/day: %s rps average, %s rps at peak", thousands(as.Spec.Capacity.ExpectedDailyRequests), dash(cs.AverageRPS), dash(cs.PeakRPS))
			row("  Per replica:\t%s rps with %s CPU", dash(cs.CapacityPerReplicaRPS), dash(cs.CPUPerReplica))
		}
		if as.Spec.Capacity != nil {
			row("  Replicas:\t%d planned for the declared load, %d to run after the observed load", cs.PlannedReplicas, cs.Replicas)
		} else {
			row("  Replicas:\t%d to run", cs.Replicas)
		}
		row("  Database pool:\t%d-%d connections per pod, within a budget of %d", cs.PoolMinConns, cs.PoolMaxConns, cs.ConnectionBudget)
		row("  Limited by:\t%s", limitedBy(cs.LimitedBy))
		row("  Observed rate:\t%s", observed(as, now))
		for i, part := range strings.Split(cs.Message, "; ") {
			label := ""
			if i == 0 {
				label = "Reasoning:"
			}
			row("  %s\t%s", label, part)
		}
	}

	row("")
	row("Database:")
	row("  Secret:\t%s (key %s)", as.Spec.Database.SecretRef.Name, as.Spec.Database.URLKey())
	row("  Connections:\t%s", connections(as))
	if st.DatabaseSchemaVersion > 0 {
		row("  Schema version:\t%d", st.DatabaseSchemaVersion)
	} else {
		row("  Schema version:\tunknown (not migrated yet)")
	}
	if err := w.Flush(); err != nil {
		return err
	}

	if _, err := fmt.Fprintln(out, "\nConditions:"); err != nil {
		return err
	}
	if err := writeConditions(out, st.Conditions, now); err != nil {
		return err
	}

	if _, err := fmt.Fprintln(out, "\nEndpoints:"); err != nil {
		return err
	}
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	ep := st.Endpoints
	if ep == nil {
		row("  (none yet)")
	} else {
		for _, e := range []struct{ name, url string }{
			{"Issuer", ep.Issuer}, {"Discovery", ep.Discovery}, {"Token", ep.Token},
			{"Authorize", ep.Authorize}, {"JWKS", ep.JWKS}, {"Userinfo", ep.Userinfo},
			{"Introspection", ep.Introspection}, {"Revocation", ep.Revocation},
		} {
			if e.url != "" {
				row("  %s\t%s", e.name, e.url)
			}
		}
	}
	return w.Flush()
}

// writeConditions writes every condition, whatever its type, as kubectl describe does.
func writeConditions(out io.Writer, conds []metav1.Condition, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if len(conds) == 0 {
		fmt.Fprintln(w, "  (none yet)")
		return w.Flush()
	}
	fmt.Fprintln(w, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
	for _, c := range conds {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, dash(c.Reason), age(c.LastTransitionTime, now), dash(c.Message))
	}
	return w.Flush()
}

func mode(as *authlyv1.AuthServer) string {
	switch {
	case as.Spec.Capacity != nil:
		c := as.Spec.Capacity
		peak := c.PeakMultiplier
		if peak == "" {
			peak = "5"
		}
		return fmt.Sprintf("capacity (spec.capacity: %s requests/day, peak x%s)", thousands(c.ExpectedDailyRequests), peak)
	case as.Spec.Replicas != nil:
		return fmt.Sprintf("replicas (spec.replicas: %d)", *as.Spec.Replicas)
	default:
		return "replicas (neither spec.replicas nor spec.capacity: 1)"
	}
}

func limitedBy(l string) string {
	switch l {
	case "":
		return "nothing: the plan gives the load what it needs"
	case "maxReplicas":
		return "maxReplicas (spec.capacity.maxReplicas)"
	case "connectionBudget":
		return "connectionBudget (spec.database.maxConnections - reservedConnections)"
	default:
		return l
	}
}

func observed(as *authlyv1.AuthServer, now time.Time) string {
	cs := as.Status.Capacity
	switch {
	case as.Spec.Capacity == nil:
		return "not observed (only capacity mode reads the pods' load)"
	case cs.ObservedRPS == "" || cs.LastObserved == nil:
		return "not observed yet"
	default:
		return fmt.Sprintf("%s rps at peak, read %s ago", cs.ObservedRPS, age(*cs.LastObserved, now))
	}
}

func connections(as *authlyv1.AuthServer) string {
	maxConns := as.Spec.Database.MaxConnections
	if maxConns == 0 {
		maxConns = 100
	}
	reserved := int32(10)
	if r := as.Spec.Database.ReservedConnections; r != nil {
		reserved = *r
	}
	return fmt.Sprintf("at most %d, %d of them reserved for migrations and administration", maxConns, reserved)
}

// age is how long ago t was, as kubectl writes ages ("5m", "3h10m").
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// thousands writes n with commas between groups of three digits: 1,000,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// conditionOf finds a condition by type, or nil.
func conditionOf(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}
