package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

// kmipCmd is `kmipctl kmip ...`: single KMIP operations against any KMIP
// server, for diagnosis, with the client code of the benchmark.
func kmipCmd() *cobra.Command {
	var t target
	var asJSON bool
	root := &cobra.Command{
		Use:   "kmip",
		Short: "Send KMIP operations to a server (any KMIP server): create, register, get, locate, attributes, activate, revoke, destroy, query, discover",
		Long: `kmip sends one KMIP operation over mutual TLS and prints the answer. It talks
to any KMIP server: give --addr, --ca, --cert and --key, or --config of a
development environment (kmipctl dev init), whose pki/ holds the client
certificate. A failed operation prints the server's Result Reason and
Message and exits 1.`,
	}
	t.flags(root.PersistentFlags())
	root.PersistentFlags().BoolVar(&asJSON, "json", false, "print the answer as JSON")

	// run dials, runs fn and prints what it returns (text, or JSON).
	run := func(cmd *cobra.Command, fn func(c *client.Conn) (any, error)) error {
		d, err := t.dialer()
		if err != nil {
			return err
		}
		ctx := cmdContext(cmd)
		c, err := d.dial(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		out, err := fn(c)
		if err != nil {
			return err
		}
		return printOut(cmd.OutOrStdout(), out, asJSON)
	}

	var spec keySpec
	var attrFlags []string
	var name string
	var activate bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a symmetric key; prints its Unique Identifier",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				attrs, err := spec.attributes()
				if err != nil {
					return nil, err
				}
				extra, err := parseAttrs(attrFlags, name)
				if err != nil {
					return nil, err
				}
				id, err := c.Create(cmdContext(cmd), kmip14.ObjectTypeSymmetricKey, append(attrs, extra...))
				if err != nil {
					return nil, err
				}
				if activate {
					if err := c.Activate(cmdContext(cmd), id); err != nil {
						return nil, fmt.Errorf("created %s, but: %w", id, err)
					}
				}
				return idOut{id}, nil
			})
		},
	}
	spec.flags(create)
	create.Flags().StringVar(&name, "name", "", "Name attribute")
	create.Flags().StringArrayVar(&attrFlags, "attr", nil, "attribute NAME=VALUE (repeatable), e.g. x-Owner=ops or \"Object Group=array1\"")
	create.Flags().BoolVar(&activate, "activate", false, "activate the key once created")

	var regType, valueHex, valueFile string
	var randomLen int
	var regSpec keySpec
	var regAttrs []string
	var regName string
	register := &cobra.Command{
		Use:   "register",
		Short: "Register a symmetric key or secret data given in hex, from a file, or random; prints its Unique Identifier",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			value, err := registerValue(valueHex, valueFile, randomLen)
			if err != nil {
				return err
			}
			return run(cmd, func(c *client.Conn) (any, error) {
				extra, err := parseAttrs(regAttrs, regName)
				if err != nil {
					return nil, err
				}
				usage, err := regSpec.usageMask()
				if err != nil {
					return nil, err
				}
				attrs := attr.List{{Name: attr.CryptographicUsageMask, Value: attr.Int(usage)}}
				var obj any
				switch regType {
				case "symmetric":
					alg, err := regSpec.algorithm()
					if err != nil {
						return nil, err
					}
					obj = client.SymmetricKeyObject(alg, value)
				case "secret":
					obj = client.SecretDataObject(kmip14.SecretDataTypePassword, value)
				default:
					return nil, fmt.Errorf("--type: %q is neither symmetric nor secret", regType)
				}
				id, err := c.Register(cmdContext(cmd), obj, append(attrs, extra...))
				if err != nil {
					return nil, err
				}
				return idOut{id}, nil
			})
		},
	}
	register.Flags().StringVar(&regType, "type", "symmetric", "symmetric (a key) or secret (Secret Data, a password)")
	register.Flags().StringVar(&valueHex, "value-hex", "", "the key or secret, in hex")
	register.Flags().StringVar(&valueFile, "value-file", "", "file holding the key or secret (raw bytes)")
	register.Flags().IntVar(&randomLen, "random", 0, "register N random bytes made here")
	register.Flags().StringVar(&regSpec.alg, "alg", "AES", "Cryptographic Algorithm of a symmetric key")
	register.Flags().StringVar(&regSpec.usage, "usage", "Encrypt|Decrypt", "Cryptographic Usage Mask, names joined by |")
	register.Flags().StringVar(&regName, "name", "", "Name attribute")
	register.Flags().StringArrayVar(&regAttrs, "attr", nil, "attribute NAME=VALUE (repeatable)")

	var showMaterial bool
	var format string
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Get an object: type, algorithm, length, format, and a SHA-256 of its material (the material itself with --show-material)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				var kft kmip14.KeyFormatType
				if format != "" {
					v, err := ttlv.DefaultRegistry.ParseEnum(kmip14.TagKeyFormatType, format)
					if err != nil {
						return nil, fmt.Errorf("--format: %w", err)
					}
					kft = kmip14.KeyFormatType(v)
				}
				o, err := c.GetFormat(cmdContext(cmd), args[0], kft)
				if err != nil {
					return nil, err
				}
				return newObjectOut(o, showMaterial), nil
			})
		},
	}
	get.Flags().BoolVar(&showMaterial, "show-material", false, "print the key material in hex (it then sits in your terminal's history)")
	get.Flags().StringVar(&format, "format", "", "Key Format Type to ask for: Raw, TransparentSymmetricKey, PKCS_8... (default: the server's)")

	var locName string
	var locAttrs []string
	var maxItems, offsetItems int32
	var locType string
	locate := &cobra.Command{
		Use:   "locate",
		Short: "Find objects by Name, Object Type or any attribute; prints one Unique Identifier per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				filters, err := parseAttrs(locAttrs, locName)
				if err != nil {
					return nil, err
				}
				if locType != "" {
					v, err := ttlv.DefaultRegistry.ParseEnum(kmip14.TagObjectType, locType)
					if err != nil {
						return nil, fmt.Errorf("--type: %w", err)
					}
					filters = append(filters, attr.Attribute{Name: attr.ObjectType, Value: attr.Enum(v)})
				}
				ids, err := c.Locate(cmdContext(cmd), client.LocateOptions{Attributes: filters, MaximumItems: maxItems, OffsetItems: offsetItems})
				if err != nil {
					return nil, err
				}
				return idsOut(ids), nil
			})
		},
	}
	locate.Flags().StringVar(&locName, "name", "", "Name to look for")
	locate.Flags().StringVar(&locType, "type", "", "Object Type: SymmetricKey, SecretData, PrivateKey...")
	locate.Flags().StringArrayVar(&locAttrs, "attr", nil, "attribute NAME=VALUE to match (repeatable)")
	locate.Flags().Int32Var(&maxItems, "max", 0, "Maximum Items")
	locate.Flags().Int32Var(&offsetItems, "offset", 0, "Offset Items (KMIP 1.3 and later)")

	attributes := &cobra.Command{
		Use:   "attributes ID [NAME...]",
		Short: "Get an object's attributes: the named ones, or all",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				list, err := c.GetAttributes(cmdContext(cmd), args[0], args[1:]...)
				if err != nil {
					return nil, err
				}
				return newAttrsOut(list), nil
			})
		},
	}

	activateCmd := &cobra.Command{
		Use:   "activate ID",
		Short: "Activate an object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				return idOut{args[0]}, c.Activate(cmdContext(cmd), args[0])
			})
		},
	}

	var reason, reasonMsg string
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an object (Deactivated, or Compromised for the compromise reasons)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := ttlv.DefaultRegistry.ParseEnum(kmip14.TagRevocationReasonCode, reason)
			if err != nil {
				return fmt.Errorf("--reason: %w", err)
			}
			return run(cmd, func(c *client.Conn) (any, error) {
				return idOut{args[0]}, c.Revoke(cmdContext(cmd), args[0], kmip14.RevocationReasonCode(code), reasonMsg, time.Time{})
			})
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "CessationOfOperation", "Revocation Reason Code: Unspecified, KeyCompromise, CACompromise, AffiliationChanged, Superseded, CessationOfOperation, PrivilegeWithdrawn")
	revoke.Flags().StringVar(&reasonMsg, "message", "", "Revocation Message")

	destroy := &cobra.Command{
		Use:   "destroy ID",
		Short: "Destroy an object (an Active one must be revoked first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				return idOut{args[0]}, c.Destroy(cmdContext(cmd), args[0])
			})
		},
	}

	query := &cobra.Command{
		Use:   "query",
		Short: "Ask the server for its operations, object types and server information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				q, err := c.Query(cmdContext(cmd), kmip14.QueryFunctionQueryOperations, kmip14.QueryFunctionQueryObjects, kmip14.QueryFunctionQueryServerInformation)
				if err != nil {
					return nil, err
				}
				return newQueryOut(q, c), nil
			})
		},
	}

	discover := &cobra.Command{
		Use:   "discover",
		Short: "Ask the server which protocol versions it speaks (Discover Versions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(c *client.Conn) (any, error) {
				vs, err := c.DiscoverVersions(cmdContext(cmd))
				if err != nil {
					return nil, err
				}
				out := versionsOut{}
				for _, v := range vs {
					out = append(out, v.String())
				}
				return out, nil
			})
		},
	}

	root.AddCommand(create, register, get, locate, attributes, activateCmd, revoke, destroy, query, discover)
	return root
}

// keySpec is the algorithm, length and usage of a key to create.
type keySpec struct {
	alg    string
	length int32
	usage  string
}

func (s *keySpec) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.alg, "alg", "AES", "Cryptographic Algorithm: AES, TRIPLE_DES, HMAC_SHA256...")
	cmd.Flags().Int32Var(&s.length, "length", 256, "Cryptographic Length in bits")
	cmd.Flags().StringVar(&s.usage, "usage", "Encrypt|Decrypt", "Cryptographic Usage Mask, names joined by |")
}

func (s *keySpec) algorithm() (kmip14.CryptographicAlgorithm, error) {
	v, err := ttlv.DefaultRegistry.ParseEnum(kmip14.TagCryptographicAlgorithm, s.alg)
	if err != nil {
		return 0, fmt.Errorf("--alg: %w", err)
	}
	return kmip14.CryptographicAlgorithm(v), nil
}

func (s *keySpec) usageMask() (int32, error) {
	v, err := ttlv.DefaultRegistry.ParseInt(kmip14.TagCryptographicUsageMask, s.usage)
	if err != nil {
		return 0, fmt.Errorf("--usage: %w", err)
	}
	return v, nil
}

func (s *keySpec) attributes() (attr.List, error) {
	alg, err := s.algorithm()
	if err != nil {
		return nil, err
	}
	usage, err := s.usageMask()
	if err != nil {
		return nil, err
	}
	return attr.List{
		{Name: attr.CryptographicAlgorithm, Value: attr.Enum(uint32(alg))},
		{Name: attr.CryptographicLength, Value: attr.Int(s.length)},
		{Name: attr.CryptographicUsageMask, Value: attr.Int(usage)},
	}, nil
}

// parseAttrs reads NAME=VALUE flags (and a Name) into attributes. A custom
// attribute's value is text; a standard one's is parsed for its type.
func parseAttrs(flags []string, name string) (attr.List, error) {
	var out attr.List
	if name != "" {
		out = append(out, client.Name(name))
	}
	for _, f := range flags {
		n, v, ok := strings.Cut(f, "=")
		if !ok || n == "" {
			return nil, fmt.Errorf("--attr %q: want NAME=VALUE", f)
		}
		a, err := parseAttr(n, v)
		if err != nil {
			return nil, fmt.Errorf("--attr %q: %w", f, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func parseAttr(name, value string) (attr.Attribute, error) {
	r, ok := attr.Lookup(name)
	if !ok {
		return attr.Attribute{}, fmt.Errorf("unknown attribute %q (custom ones are x-Name, or Vendor-Name in KMIP 2.x)", name)
	}
	a := attr.Attribute{Name: r.Name}
	switch r.Type {
	case 0, ttlv.TypeTextString:
		a.Value = attr.Text(value)
	case ttlv.TypeEnumeration:
		v, err := ttlv.DefaultRegistry.ParseEnum(r.Tag, value)
		if err != nil {
			return a, err
		}
		a.Value = attr.Enum(v)
	case ttlv.TypeInteger:
		v, err := ttlv.DefaultRegistry.ParseInt(r.Tag, value)
		if err != nil {
			return a, err
		}
		a.Value = attr.Int(v)
	case ttlv.TypeLongInteger:
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return a, err
		}
		a.Value = attr.Long(v)
	case ttlv.TypeBoolean:
		v, err := strconv.ParseBool(value)
		if err != nil {
			return a, err
		}
		a.Value = attr.Bool(v)
	case ttlv.TypeDateTime:
		v, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return a, err
		}
		a.Value = attr.Date(v)
	case ttlv.TypeByteString:
		v, err := hex.DecodeString(value)
		if err != nil {
			return a, err
		}
		a.Value = attr.Bytes(v)
	default:
		if r.Name == attr.Name {
			return client.Name(value), nil
		}
		return a, fmt.Errorf("attribute %s is a %s: not settable from the command line", r.Name, r.Type)
	}
	return a, nil
}

func registerValue(hexValue, file string, random int) ([]byte, error) {
	given := 0
	for _, set := range []bool{hexValue != "", file != "", random > 0} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, fmt.Errorf("give exactly one of --value-hex, --value-file and --random")
	}
	switch {
	case hexValue != "":
		return hex.DecodeString(hexValue)
	case file != "":
		return os.ReadFile(file)
	default:
		b := make([]byte, random)
		_, err := rand.Read(b)
		return b, err
	}
}

// Outputs: each prints itself as text; --json marshals it.

type texter interface{ text(w io.Writer) }

func printOut(w io.Writer, out any, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if t, ok := out.(texter); ok {
		t.text(w)
	}
	return nil
}

type idOut struct {
	UniqueIdentifier string `json:"unique_identifier"`
}

func (o idOut) text(w io.Writer) { fmt.Fprintln(w, o.UniqueIdentifier) }

type idsOut []string

func (o idsOut) text(w io.Writer) {
	for _, id := range o {
		fmt.Fprintln(w, id)
	}
}

type versionsOut []string

func (o versionsOut) text(w io.Writer) { fmt.Fprintln(w, strings.Join(o, " ")) }

type objectOut struct {
	UniqueIdentifier string `json:"unique_identifier"`
	ObjectType       string `json:"object_type"`
	Algorithm        string `json:"cryptographic_algorithm,omitempty"`
	Length           int32  `json:"cryptographic_length,omitempty"`
	KeyFormatType    string `json:"key_format_type,omitempty"`
	Bytes            int    `json:"bytes"`
	SHA256           string `json:"sha256,omitempty"`
	Material         string `json:"material,omitempty"`
}

func newObjectOut(o *client.Object, show bool) objectOut {
	value := o.Material
	if value == nil {
		value = o.Value
	}
	out := objectOut{UniqueIdentifier: o.UniqueIdentifier, ObjectType: o.Type.String(), Length: o.Length, Bytes: len(value)}
	if o.Algorithm != 0 {
		out.Algorithm = o.Algorithm.String()
	}
	if o.KeyFormatType != 0 {
		out.KeyFormatType = o.KeyFormatType.String()
	}
	if len(value) > 0 {
		sum := sha256.Sum256(value)
		out.SHA256 = hex.EncodeToString(sum[:])
		if show {
			out.Material = hex.EncodeToString(value)
		}
	}
	return out
}

func (o objectOut) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Unique Identifier\t%s\n", o.UniqueIdentifier)
	fmt.Fprintf(tw, "Object Type\t%s\n", o.ObjectType)
	if o.Algorithm != "" {
		fmt.Fprintf(tw, "Cryptographic Algorithm\t%s\n", o.Algorithm)
	}
	if o.Length != 0 {
		fmt.Fprintf(tw, "Cryptographic Length\t%d\n", o.Length)
	}
	if o.KeyFormatType != "" {
		fmt.Fprintf(tw, "Key Format Type\t%s\n", o.KeyFormatType)
	}
	fmt.Fprintf(tw, "Value\t%d bytes, SHA-256 %s\n", o.Bytes, o.SHA256)
	if o.Material != "" {
		fmt.Fprintf(tw, "Material\t%s\n", o.Material)
	}
	_ = tw.Flush()
}

type attrOut struct {
	Name  string `json:"name"`
	Index int32  `json:"index,omitempty"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type attrsOut []attrOut

func newAttrsOut(list attr.List) attrsOut {
	out := attrsOut{}
	for _, a := range list {
		v := a.Value
		if r, ok := attr.Lookup(a.Name); ok && !r.Custom && r.Tag != 0 {
			v = attr.Retag(v, r.Tag) // so that enumerations get their names
		}
		out = append(out, attrOut{Name: a.Name, Index: a.Index, Type: a.Value.Type().String(), Value: formatItem(v)})
	}
	return out
}

func (o attrsOut) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, a := range o {
		name := a.Name
		if a.Index != 0 {
			name = fmt.Sprintf("%s[%d]", name, a.Index)
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, a.Value)
	}
	_ = tw.Flush()
}

// formatItem renders a TTLV value for people: enumerations and bit masks
// by name, dates in RFC 3339, bytes in hex, structures as {Member: value}.
func formatItem(t ttlv.TTLV) string {
	reg := ttlv.DefaultRegistry
	switch t.Type() {
	case ttlv.TypeStructure:
		var parts []string
		for _, c := range attr.Children(t) {
			parts = append(parts, reg.FormatTag(c.Tag())+": "+formatItem(c))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case ttlv.TypeEnumeration:
		return reg.FormatEnum(t.Tag(), uint32(t.ValueEnumeration()))
	case ttlv.TypeInteger:
		if reg.IsBitmask(t.Tag()) {
			return reg.FormatInt(t.Tag(), t.ValueInteger())
		}
		return strconv.Itoa(int(t.ValueInteger()))
	case ttlv.TypeLongInteger:
		return strconv.FormatInt(t.ValueLongInteger(), 10)
	case ttlv.TypeBigInteger:
		return new(big.Int).Set(t.ValueBigInteger()).String()
	case ttlv.TypeBoolean:
		return strconv.FormatBool(t.ValueBoolean())
	case ttlv.TypeTextString:
		return t.ValueTextString()
	case ttlv.TypeByteString:
		return hex.EncodeToString(t.ValueByteString())
	case ttlv.TypeDateTime:
		return t.ValueDateTime().UTC().Format(time.RFC3339)
	case ttlv.TypeInterval:
		return t.ValueInterval().String()
	default:
		return hex.EncodeToString(t.ValueRaw())
	}
}

type queryOut struct {
	Version              string   `json:"protocol_version"`
	TLS                  string   `json:"tls"`
	Operations           []string `json:"operations"`
	ObjectTypes          []string `json:"object_types"`
	VendorIdentification string   `json:"vendor_identification,omitempty"`
	ServerInformation    string   `json:"server_information,omitempty"`
}

func newQueryOut(q *message.QueryResponse, c *client.Conn) queryOut {
	st := c.ConnectionState()
	out := queryOut{
		Version:              c.Version().String(),
		TLS:                  tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite),
		VendorIdentification: q.VendorIdentification,
		Operations:           []string{},
		ObjectTypes:          []string{},
	}
	for _, op := range q.Operation {
		out.Operations = append(out.Operations, op.String())
	}
	for _, t := range q.ObjectType {
		out.ObjectTypes = append(out.ObjectTypes, t.String())
	}
	if len(q.ServerInformation) >= 8 {
		out.ServerInformation = formatItem(q.ServerInformation)
	}
	return out
}

func (o queryOut) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Protocol Version\t%s\n", o.Version)
	fmt.Fprintf(tw, "TLS\t%s\n", o.TLS)
	fmt.Fprintf(tw, "Vendor Identification\t%s\n", o.VendorIdentification)
	if o.ServerInformation != "" {
		fmt.Fprintf(tw, "Server Information\t%s\n", o.ServerInformation)
	}
	fmt.Fprintf(tw, "Operations\t%s\n", strings.Join(o.Operations, ", "))
	fmt.Fprintf(tw, "Object Types\t%s\n", strings.Join(o.ObjectTypes, ", "))
	_ = tw.Flush()
}
