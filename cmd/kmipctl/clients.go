package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kmip-adapter/kmip-adapter/admin"
	"github.com/kmip-adapter/kmip-adapter/store"
)

// credentialFlags set a client's KMIP Credential.
type credentialFlags struct {
	username, passwordFile string
}

func (c *credentialFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.username, "username", "", "KMIP Credential username the client sends (with --password-file)")
	cmd.Flags().StringVar(&c.passwordFile, "password-file", "", "file holding the KMIP Credential password (\"-\": standard input); stored only as a salted slow hash")
}

func (c *credentialFlags) read() (user, pass string, err error) {
	if (c.username == "") != (c.passwordFile == "") {
		return "", "", errors.New("--username and --password-file go together")
	}
	if c.passwordFile == "" {
		return "", "", nil
	}
	pass, err = readSecretFile(c.passwordFile)
	return c.username, pass, err
}

func clientCmd() *cobra.Command {
	var af adminFlags
	client := &cobra.Command{Use: "client", Short: "Registered KMIP clients and their certificates (admin API)"}
	af.register(client)
	var tenant, name string
	tenantFlags := func(cmd *cobra.Command, nameRequired bool) {
		cmd.Flags().StringVar(&tenant, "tenant", "", "the client's tenant")
		cmd.Flags().StringVar(&name, "name", "", "the client's name (unique in its tenant)")
		_ = cmd.MarkFlagRequired("tenant")
		if nameRequired {
			_ = cmd.MarkFlagRequired("name")
		}
	}

	var out, keyType, p12PassFile string
	var icf credentialFlags
	issue := &cobra.Command{
		Use:   "issue --tenant NAME --name CLIENT --out DIR",
		Short: "Issue a client certificate and key (PEM and PKCS#12) and register the client",
		Long: `issue makes a key pair here, has the server's CA certify it (the private key never
leaves this machine), registers the client by the certificate's fingerprint, and writes
DIR/CLIENT.crt, DIR/CLIENT.key (mode 0600), DIR/CLIENT.p12 (PKCS#12 with the CA, its
password in DIR/CLIENT.p12.pass unless --p12-password-file is given) and DIR/ca.crt,
the CA the client trusts the server with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, pass, err := icf.read()
			if err != nil {
				return err
			}
			key, err := newKey(keyType)
			if err != nil {
				return err
			}
			csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
			if err != nil {
				return err
			}
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			resp, err := c.SignCSR(ctx, tenant, name, admin.SignRequest{
				CSRPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), Username: user, Password: pass,
			})
			if err != nil {
				return err
			}
			if err := writeBundle(out, name, key, resp, p12PassFile); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s/%s registered (%s)\nwrote %s.crt, %s.key, %s.p12 and ca.crt in %s\n",
				tenant, name, resp.Fingerprint, name, name, name, out)
			return nil
		},
	}
	tenantFlags(issue, true)
	issue.Flags().StringVar(&out, "out", "", "directory to write the files to (made 0700 if missing)")
	issue.Flags().StringVar(&keyType, "key-type", "rsa", "rsa (RSA-2048) or ecdsa (P-256)")
	issue.Flags().StringVar(&p12PassFile, "p12-password-file", "", "file holding the PKCS#12 password (default: a random one, written to DIR/CLIENT.p12.pass)")
	icf.register(issue)
	_ = issue.MarkFlagRequired("out")

	var csrFile, certOut, caOut string
	var scf credentialFlags
	signCSR := &cobra.Command{
		Use:   "sign-csr --tenant NAME --csr FILE --out FILE",
		Short: "Sign a client's certificate signing request with the server's CA and register the client",
		Long: `sign-csr has the server's CA certify the CSR in FILE (PEM, as vCenter's "Make a CSR"
or openssl req produce) as a client certificate, registers the client by its
fingerprint (named --name, or the CSR's common name), and writes the certificate to
--out. --ca-out writes the CA certificate the client trusts the server with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, pass, err := scf.read()
			if err != nil {
				return err
			}
			csrPEM, err := os.ReadFile(csrFile)
			if err != nil {
				return fmt.Errorf("--csr: %w", err)
			}
			if name == "" {
				if name, err = csrName(csrPEM); err != nil {
					return err
				}
			}
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			resp, err := c.SignCSR(ctx, tenant, name, admin.SignRequest{CSRPEM: string(csrPEM), Username: user, Password: pass})
			if err != nil {
				return err
			}
			if err := os.WriteFile(certOut, []byte(resp.CertificatePEM), 0o644); err != nil {
				return err
			}
			if caOut != "" {
				if err := os.WriteFile(caOut, []byte(resp.CAPEM), 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s/%s registered (%s); certificate in %s\n", tenant, name, resp.Fingerprint, certOut)
			return nil
		},
	}
	tenantFlags(signCSR, false)
	signCSR.Flags().StringVar(&csrFile, "csr", "", "the certificate signing request (PEM)")
	signCSR.Flags().StringVar(&certOut, "out", "", "where to write the signed certificate (PEM)")
	signCSR.Flags().StringVar(&caOut, "ca-out", "", "where to write the CA certificate (PEM)")
	scf.register(signCSR)
	_ = signCSR.MarkFlagRequired("csr")
	_ = signCSR.MarkFlagRequired("out")

	var certFile, fingerprint string
	var rule store.MatchRule
	var disabled bool
	var acf credentialFlags
	add := &cobra.Command{
		Use:   "add --tenant NAME --name CLIENT (--cert FILE | --fingerprint sha256:HEX | --subject-cn CN --san NAME --issuer DN)",
		Short: "Register a client certificate made elsewhere: by the certificate, its fingerprint, or a match rule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, pass, err := acf.read()
			if err != nil {
				return err
			}
			in := admin.ClientCreate{Name: name, Fingerprint: fingerprint, Match: rule, Username: user, Password: pass, Disabled: disabled}
			if certFile != "" {
				b, err := os.ReadFile(certFile)
				if err != nil {
					return fmt.Errorf("--cert: %w", err)
				}
				in.CertificatePEM = string(b)
			}
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			cl, err := c.AddClient(ctx, tenant, in)
			if err != nil {
				return err
			}
			return printClients(cmd, af, []admin.Client{cl})
		},
	}
	tenantFlags(add, true)
	add.Flags().StringVar(&certFile, "cert", "", "the client's certificate (PEM): registered by its fingerprint")
	add.Flags().StringVar(&fingerprint, "fingerprint", "", "the certificate's SHA-256 fingerprint (sha256:HEX, HEX, or openssl's AA:BB:... form)")
	add.Flags().StringVar(&rule.SubjectCN, "subject-cn", "", "match rule: the subject common name")
	add.Flags().StringVar(&rule.SAN, "san", "", "match rule: a subject alternative name (DNS, IP, e-mail or URI)")
	add.Flags().StringVar(&rule.Issuer, "issuer", "", "match rule: the issuer's distinguished name as Go prints it (CN=...,O=...)")
	add.Flags().BoolVar(&disabled, "disabled", false, "register it disabled")
	acf.register(add)

	list := &cobra.Command{
		Use: "list [--tenant NAME]", Short: "List registered clients", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			cs, err := c.ListClients(ctx, tenant)
			if err != nil {
				return err
			}
			return printClients(cmd, af, cs)
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "", "only this tenant's clients")

	remove := &cobra.Command{
		Use: "remove --tenant NAME --name CLIENT", Short: "Remove a client: its certificate is refused at once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			if err := c.RemoveClient(ctx, tenant, name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s/%s removed\n", tenant, name)
			return nil
		},
	}
	tenantFlags(remove, true)

	setEnabled := func(use, short string, enabled bool) *cobra.Command {
		cmd := &cobra.Command{
			Use: use + " --tenant NAME --name CLIENT", Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, ctx, err := af.client(cmd)
				if err != nil {
					return err
				}
				cl, err := c.UpdateClient(ctx, tenant, name, admin.ClientUpdate{Enabled: &enabled})
				if err != nil {
					return err
				}
				return printClients(cmd, af, []admin.Client{cl})
			},
		}
		tenantFlags(cmd, true)
		return cmd
	}
	var ccf credentialFlags
	setCred := &cobra.Command{
		Use:   "set-credential --tenant NAME --name CLIENT --username USER --password-file FILE",
		Short: "Set or change the KMIP Credential (username and password) a client sends",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, pass, err := ccf.read()
			if err != nil {
				return err
			}
			if user == "" {
				return errors.New("--username and --password-file: required")
			}
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			cl, err := c.UpdateClient(ctx, tenant, name, admin.ClientUpdate{Username: &user, Password: &pass})
			if err != nil {
				return err
			}
			return printClients(cmd, af, []admin.Client{cl})
		},
	}
	tenantFlags(setCred, true)
	ccf.register(setCred)
	client.AddCommand(issue, signCSR, add, list, remove, setCred,
		setEnabled("enable", "Enable a client", true), setEnabled("disable", "Disable a client: refused at once, kept registered", false))
	return client
}

func printClients(cmd *cobra.Command, af adminFlags, cs []admin.Client) error {
	if af.json {
		return printJSON(cmd.OutOrStdout(), cs)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TENANT\tNAME\tENABLED\tMATCH\tCREDENTIAL")
	for _, c := range cs {
		match := c.Fingerprint
		if match == "" {
			match = fmt.Sprintf("cn=%q san=%q issuer=%q", c.Match.SubjectCN, c.Match.SAN, c.Match.Issuer)
		}
		cred := "-"
		if c.Username != "" {
			cred = c.Username
		}
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\n", c.Tenant, c.Name, c.Enabled, match, cred)
	}
	return w.Flush()
}

func newKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("--key-type: %q is not rsa or ecdsa", keyType)
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// csrName is a client name made from a CSR's common name.
func csrName(csrPEM []byte) (string, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return "", errors.New("--csr: no PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("--csr: %w", err)
	}
	n := nameChars.ReplaceAllString(csr.Subject.CommonName, "-")
	if n == "" || n[0] == '-' || n[0] == '.' || n[0] == '_' {
		return "", errors.New("--name: required (the CSR's common name makes no client name)")
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n, nil
}

// writeBundle writes DIR/NAME.crt, .key, .p12 (and its password unless
// given) and ca.crt.
func writeBundle(dir, name string, key crypto.Signer, resp admin.SignResponse, p12PassFile string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certBlock, _ := pem.Decode([]byte(resp.CertificatePEM))
	caBlock, _ := pem.Decode([]byte(resp.CAPEM))
	if certBlock == nil || caBlock == nil {
		return errors.New("the server's answer holds no certificate")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return err
	}
	var p12Pass string
	if p12PassFile != "" {
		if p12Pass, err = readSecretFile(p12PassFile); err != nil {
			return err
		}
	} else {
		raw := make([]byte, 12)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		p12Pass = hex.EncodeToString(raw)
		if err := os.WriteFile(filepath.Join(dir, name+".p12.pass"), []byte(p12Pass+"\n"), 0o600); err != nil {
			return err
		}
	}
	p12, err := pkcs12.Modern.Encode(key, cert, []*x509.Certificate{ca}, p12Pass)
	if err != nil {
		return fmt.Errorf("PKCS#12: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{name + ".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{name + ".crt", []byte(resp.CertificatePEM), 0o644},
		{name + ".p12", p12, 0o600},
		{"ca.crt", []byte(resp.CAPEM), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func caCmd() *cobra.Command {
	var af adminFlags
	ca := &cobra.Command{Use: "ca", Short: "The CA KMIP clients trust the server with (admin API)"}
	af.register(ca)
	var out string
	export := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Print (or write) the CA certificate that KMIP clients (vCenter, arrays) trust the server with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx, err := af.client(cmd)
			if err != nil {
				return err
			}
			got, err := c.CA(ctx)
			if err != nil {
				return err
			}
			if out == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), got.PEM)
				return err
			}
			return os.WriteFile(out, []byte(got.PEM), 0o644)
		},
	}
	export.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	ca.AddCommand(export)
	return ca
}
