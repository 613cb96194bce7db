package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	p11 "github.com/miekg/pkcs11"
	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
	"github.com/kmip-adapter/kmip-adapter/config"
)

// hsmReport is what `kmipctl bench hsm --json` prints: operations per
// second of the PKCS#11 work that KMIP requests cost, on the configured
// token.
type hsmReport struct {
	Module  string  `json:"module"`
	Token   string  `json:"token"`
	Seconds float64 `json:"seconds_each"`
	// Raw: straight PKCS#11 calls on one session, with an AES-256 session
	// key like an unwrapped tenant KEK: the physical limit of this path.
	RawDecrypt float64 `json:"raw_decrypt_per_s"` // C_DecryptInit + C_Decrypt, AES-GCM, 32-byte key in, 96 bytes of AAD
	RawSeal    float64 `json:"raw_seal_per_s"`    // C_GenerateRandom(12) + C_EncryptInit + C_Encrypt, AES-GCM
	RawRandom  float64 `json:"raw_random_per_s"`  // C_GenerateRandom(32)
	// Backend: the adapter's own pkcs11 backend (session pool, cached
	// tenant KEK), one caller, then 16 at once.
	BackendOpen   float64 `json:"backend_open_per_s"`
	BackendSeal   float64 `json:"backend_seal_per_s"`
	BackendOpen16 float64 `json:"backend_open_16_per_s"`
}

func benchHSMCmd() *cobra.Command {
	var configPath string
	var dur time.Duration
	var asJSON bool
	var out string
	cmd := &cobra.Command{
		Use:   "hsm",
		Short: "Measure the raw PKCS#11 rates of what KMIP requests cost (AES-GCM open and seal, RNG) on the configured token",
		Long: `hsm measures, on the token of --config, how many times per second one
session does what a Get costs (AES-GCM decrypt under an AES-256 key held
in the HSM) and what a Create costs (random bytes, AES-GCM encrypt), first
with straight PKCS#11 calls, then through the adapter's pkcs11 backend
with a real tenant KEK (one caller, then 16). The raw figures are the
limit that the adapter's throughput is compared with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cli.LoadConfig(configPath, nil, nil)
			if err != nil {
				return err
			}
			if cfg.Backend.Type != "pkcs11" {
				return fmt.Errorf("backend.type is %s: bench hsm measures a pkcs11 token", cfg.Backend.Type)
			}
			rep, err := measureHSM(cmdContext(cmd), cfg.Backend, dur, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			if asJSON {
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			}
			printHSM(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "server configuration (YAML) naming the token")
	cmd.Flags().DurationVar(&dur, "duration", 3*time.Second, "time spent on each measurement")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rates as JSON")
	cmd.Flags().StringVar(&out, "out", "", "also write the JSON to this file")
	return cmd
}

func printHSM(w io.Writer, r hsmReport) {
	fmt.Fprintf(w, "token %q (%s), one session unless said, %.0fs each\n", r.Token, r.Module, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "raw AES-GCM decrypt (what a Get costs)\t%.0f/s\n", r.RawDecrypt)
	fmt.Fprintf(tw, "raw AES-GCM seal (IV + encrypt)\t%.0f/s\n", r.RawSeal)
	fmt.Fprintf(tw, "raw random 32 bytes\t%.0f/s\n", r.RawRandom)
	fmt.Fprintf(tw, "backend Open, 1 caller\t%.0f/s\n", r.BackendOpen)
	fmt.Fprintf(tw, "backend Random(32) + Seal, 1 caller (what a Create costs)\t%.0f/s\n", r.BackendSeal)
	fmt.Fprintf(tw, "backend Open, 16 callers\t%.0f/s\n", r.BackendOpen16)
	_ = tw.Flush()
}

// rate runs fn back to back for d and returns calls per second.
func rate(d time.Duration, fn func() error) (float64, error) {
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		if err := fn(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func measureHSM(ctx context.Context, cfg config.Backend, d time.Duration, progress io.Writer) (hsmReport, error) {
	p := cfg.PKCS11
	rep := hsmReport{Module: p.Module, Token: p.TokenLabel, Seconds: d.Seconds()}
	if p.SoftHSM2Conf != "" {
		if err := os.Setenv("SOFTHSM2_CONF", p.SoftHSM2Conf); err != nil {
			return rep, err
		}
	}
	fmt.Fprintln(progress, "hsm: raw PKCS#11 calls on one session")
	if err := measureRaw(p, d, &rep); err != nil {
		return rep, fmt.Errorf("raw PKCS#11: %w", err)
	}
	fmt.Fprintln(progress, "hsm: the adapter's pkcs11 backend")
	if err := measureBackend(ctx, cfg, d, &rep); err != nil {
		return rep, fmt.Errorf("backend: %w", err)
	}
	return rep, nil
}

// measureRaw loads the module itself, logs in, makes an AES-256 session
// key (sensitive, not extractable: what an unwrapped tenant KEK is) and
// times the calls; it finalizes the module before returning.
func measureRaw(p config.PKCS11, d time.Duration, rep *hsmReport) error {
	pin, err := p.PIN.Value()
	if err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	m := p11.New(p.Module)
	if m == nil {
		return fmt.Errorf("cannot load %s", p.Module)
	}
	defer m.Destroy()
	if err := m.Initialize(); err != nil {
		return err
	}
	defer func() { _ = m.Finalize() }()
	slots, err := m.GetSlotList(true)
	if err != nil {
		return err
	}
	slot, found := uint(0), false
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err == nil && ti.Label == p.TokenLabel {
			slot, found = s, true
			break
		}
	}
	if !found {
		return fmt.Errorf("no token labelled %q", p.TokenLabel)
	}
	s, err := m.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	defer func() { _ = m.CloseSession(s) }()
	if err := m.Login(s, p11.CKU_USER, pin); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
		return fmt.Errorf("login: %w", err)
	}
	key, err := m.GenerateKey(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
	})
	if err != nil {
		return fmt.Errorf("generate a session key: %w", err)
	}
	defer func() { _ = m.DestroyObject(s, key) }()

	pt := make([]byte, 32)
	aad := make([]byte, 96)
	iv := make([]byte, 12)
	for _, b := range [][]byte{pt, aad, iv} {
		if _, err := rand.Read(b); err != nil {
			return err
		}
	}
	gcm := func(encrypt bool, iv, in []byte) ([]byte, error) {
		params := p11.NewGCMParams(iv, aad, 128)
		defer params.Free()
		mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}
		if encrypt {
			if err := m.EncryptInit(s, mech, key); err != nil {
				return nil, err
			}
			return m.Encrypt(s, in)
		}
		if err := m.DecryptInit(s, mech, key); err != nil {
			return nil, err
		}
		return m.Decrypt(s, in)
	}
	ct, err := gcm(true, iv, pt)
	if err != nil {
		return fmt.Errorf("AES-GCM encrypt: %w", err)
	}
	if rep.RawDecrypt, err = rate(d, func() error { _, err := gcm(false, iv, ct); return err }); err != nil {
		return fmt.Errorf("AES-GCM decrypt: %w", err)
	}
	if rep.RawSeal, err = rate(d, func() error {
		fresh, err := m.GenerateRandom(s, 12)
		if err != nil {
			return err
		}
		_, err = gcm(true, fresh, pt)
		return err
	}); err != nil {
		return fmt.Errorf("AES-GCM seal: %w", err)
	}
	if rep.RawRandom, err = rate(d, func() error { _, err := m.GenerateRandom(s, 32); return err }); err != nil {
		return fmt.Errorf("random: %w", err)
	}
	return nil
}

// measureBackend opens the configured backend as the server does, makes a
// tenant KEK and times Open and Random+Seal through it.
func measureBackend(ctx context.Context, cfg config.Backend, d time.Duration, rep *hsmReport) error {
	be, err := backend.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	tk, err := be.NewTenantKey(ctx, "kmipctl-bench-hsm")
	if err != nil {
		return err
	}
	aad := make([]byte, 96)
	pt := make([]byte, 32)
	sealed, err := be.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: pt, AdditionalData: aad})
	if err != nil {
		return err
	}
	open := func() error {
		_, err := be.Open(ctx, backend.OpenRequest{Key: tk, Ciphertext: sealed, AdditionalData: aad})
		return err
	}
	if rep.BackendOpen, err = rate(d, open); err != nil {
		return err
	}
	rs, hasRandom := backend.As[backend.RandomSource](be)
	if rep.BackendSeal, err = rate(d, func() error {
		material := pt
		if hasRandom {
			if material, err = rs.Random(ctx, 32); err != nil {
				return err
			}
		}
		_, err := be.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: material, AdditionalData: aad})
		return err
	}); err != nil {
		return err
	}
	var n atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				if err := open(); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	rep.BackendOpen16 = float64(n.Load()) / time.Since(start).Seconds()
	return nil
}
