package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// policyFlags are the tenant policy flags of create and update.
type policyFlags struct {
	activate, noEKU, credential bool
	allowedOps                  []string
}

func (p *policyFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.activate, "activate-on-create", false, "created and registered keys are Active at once (vCenter never calls Activate)")
	cmd.Flags().BoolVar(&p.noEKU, "allow-no-client-auth-eku", false, "accept client certificates without the clientAuth extended key usage (vCenter 6.5)")
	cmd.Flags().BoolVar(&p.credential, "require-credential", false, "every request must carry the client's KMIP Credential (username and password)")
	cmd.Flags().StringSliceVar(&p.allowedOps, "allowed-ops", nil, "the only KMIP operations the tenant's clients may call, comma-separated (e.g. DiscoverVersions,Query,Create,Get,GetAttributes,AddAttribute); empty: all")
}

func (p *policyFlags) policy() store.TenantPolicy {
	return store.TenantPolicy{ActivateOnCreate: p.activate, AllowNoClientAuthEKU: p.noEKU, RequireCredential: p.credential, AllowedOperations: p.allowedOps}
}

// update sets in u what the command line changed.
func (p *policyFlags) update(cmd *cobra.Command, u *admin.TenantUpdate) {
	if cmd.Flags().Changed("activate-on-create") {
		u.ActivateOnCreate = &p.activate
	}
	if cmd.Flags().Changed("allow-no-client-auth-eku") {
		u.AllowNoClientAuthEKU = &p.noEKU
	}
	if cmd.Flags().Changed("require-credential") {
		u.RequireCredential = &p.credential
	}
	if cmd.Flags().Changed("allowed-ops") {
		u.AllowedOperations = &p.allowedOps
	}
}

func tenantCmd() *cobra.Command {
	var af adminFlags
	tenant := &cobra.Command{Use: "tenant", Short: "Tenants: namespaces of keys, each with its root of trust, clients and policy (admin API)"}
	af.register(tenant)

	var pf policyFlags
	var backendType, root string
	var disabled bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant and its key-encryption key (in the root of trust)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(ctx, admin.TenantCreate{Name: args[0], Backend: backendType, Root: root, Policy: pf.policy(), Disabled: disabled})
			if err != nil {
				return err
			}
			return printTenant(cmd, af, t)
		},
	}
	create.Flags().StringVar(&backendType, "backend", "", "root-of-trust type (default: the server's backend.type)")
	create.Flags().StringVar(&root, "root", "", "root key reference in the backend, for hpcs a root key id the KMS must have (default: the backend's configured root)")
	create.Flags().BoolVar(&disabled, "disabled", false, "create it disabled")
	pf.register(create)

	var upf policyFlags
	update := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a tenant's policy (only the flags given)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			var u admin.TenantUpdate
			upf.update(cmd, &u)
			t, err := c.UpdateTenant(ctx, args[0], u)
			if err != nil {
				return err
			}
			return printTenant(cmd, af, t)
		},
	}
	upf.register(update)

	status := func(use, short, value string) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, ctx, err := af.client(cmd)
				if err != nil {
					return err
				}
				t, err := c.UpdateTenant(ctx, args[0], admin.TenantUpdate{Status: &value})
				if err != nil {
					return err
				}
				return printTenant(cmd, af, t)
			},
		}
	}

	list := &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			ts, err := c.ListTenants(ctx)
			if err != nil {
				return err
			}
			if af.json {
				return printJSON(cmd.OutOrStdout(), ts)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSTATUS\tBACKEND\tCLIENTS\tOBJECTS\tACTIVE\tPOLICY")
			for _, t := range ts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", t.Name, t.Status, t.Backend, t.Clients, t.Objects, t.ActiveObjects, policyText(t))
			}
			return w.Flush()
		},
	}
	show := &cobra.Command{
		Use: "show NAME", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			t, err := c.GetTenant(ctx, args[0])
			if err != nil {
				return err
			}
			return printTenant(cmd, af, t)
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a tenant, its clients, its key-encryption key and its remaining (non-Active) objects",
		Long:  "delete is refused while the tenant holds Active objects. What was sealed under the tenant's key can no longer be read.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteTenant(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s deleted\n", args[0])
			return nil
		},
	}
	var caFile string
	trust := &cobra.Command{
		Use:   "trust-ca NAME --ca FILE",
		Short: "Trust an external CA (e.g. vCenter's VMCA root) for this tenant only",
		Long: `trust-ca adds the CA certificates in FILE (PEM) to the tenant's own trusted CAs:
client certificates that chain to them are accepted for this tenant's registered clients
only. Register the client afterwards (kmipctl client add, by certificate or by a rule
such as --issuer).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("--ca: %w", err)
			}
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			t, err := c.TrustCA(ctx, args[0], string(pem))
			if err != nil {
				return err
			}
			return printTenant(cmd, af, t)
		},
	}
	trust.Flags().StringVar(&caFile, "ca", "", "PEM file of the CA certificate(s)")
	_ = trust.MarkFlagRequired("ca")

	tenant.AddCommand(create, update, list, show, del, trust,
		status("enable", "Enable a tenant (also takes over a tenant made on first use)", store.TenantEnabled),
		status("disable", "Disable a tenant: its clients are refused at once", store.TenantDisabled))
	return tenant
}

func policyText(t admin.Tenant) string {
	var p []string
	if t.Policy.ActivateOnCreate {
		p = append(p, "activate-on-create")
	}
	if t.Policy.AllowNoClientAuthEKU {
		p = append(p, "allow-no-client-auth-eku")
	}
	if t.Policy.RequireCredential {
		p = append(p, "require-credential")
	}
	if len(t.Policy.AllowedOperations) > 0 {
		p = append(p, "allowed-ops="+strings.Join(t.Policy.AllowedOperations, ","))
	}
	if len(t.TrustedCAs) > 0 {
		p = append(p, fmt.Sprintf("trusted-cas=%d", len(t.TrustedCAs)))
	}
	if len(p) == 0 {
		return "-"
	}
	return strings.Join(p, " ")
}

func printTenant(cmd *cobra.Command, af adminFlags, t admin.Tenant) error {
	if af.json {
		return printJSON(cmd.OutOrStdout(), t)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "tenant\t%s\n", t.Name)
	fmt.Fprintf(w, "status\t%s\n", t.Status)
	fmt.Fprintf(w, "backend\t%s\n", t.Backend)
	if t.Root != "" {
		fmt.Fprintf(w, "root\t%s\n", t.Root)
	}
	fmt.Fprintf(w, "policy\t%s\n", policyText(t))
	for _, ca := range t.TrustedCAs {
		fmt.Fprintf(w, "trusted CA\t%s (%s, until %s)\n", ca.Subject, ca.Fingerprint, ca.NotAfter.Format("2006-01-02"))
	}
	fmt.Fprintf(w, "clients\t%d\n", t.Clients)
	fmt.Fprintf(w, "objects\t%d (%d Active)\n", t.Objects, t.ActiveObjects)
	return w.Flush()
}
