package routersync

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kanaria-dev/kanaria/internal/traffic"
)

// Keys of the Secrets' data besides the salt's.
const (
	// AdminTokenKey holds the admin API's bearer token in the admin token
	// Secret, which the controller reads too, to merge the samples of every
	// replica for an analysis.
	AdminTokenKey = traffic.RouterAdminTokenKey
	// OverrideSecretKey holds the value a request must carry in the
	// override secret header for an override (X-Kanaria-Override) to be
	// honoured.
	OverrideSecretKey = "secret"
)

// DefaultAdminTokenSecret is the admin token Secret the install manifests
// name (the router's --admin-token-secret, the controller's
// --router-admin-secret).
const DefaultAdminTokenSecret = traffic.DefaultRouterAdminSecret

// secretWatch follows one Secret by name through a cache of its own: a
// field selector names one object, so the watch is allowed by an RBAC rule
// limited to that name (get, list, watch with resourceNames), and the
// router reads no other Secret. One cache per Secret, since a field
// selector cannot name two.
type secretWatch struct {
	nn    types.NamespacedName
	cache cache.Cache
}

func newSecretWatch(cfg *rest.Config, scheme *runtime.Scheme, nn types.NamespacedName) (*secretWatch, error) {
	c, err := cache.New(cfg, cache.Options{
		Scheme:                      scheme,
		DefaultNamespaces:           map[string]cache.Config{nn.Namespace: {}},
		ReaderFailOnMissingInformer: true,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", nn.Name)},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("routersync: watching Secret %s: %w", nn, err)
	}
	return &secretWatch{nn: nn, cache: c}, nil
}

// value reads key of the Secret from the cache; ok is false when the
// Secret or the key is missing.
func (w *secretWatch) value(ctx context.Context, key string) (v string, ok bool, err error) {
	var sec corev1.Secret
	err = w.cache.Get(ctx, w.nn, &sec)
	switch {
	case apierrors.IsNotFound(err):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	b := sec.Data[key]
	return string(b), len(b) > 0, nil
}

// createRandom creates Secret nn with a random value under key; a Secret
// another replica created first is not an error (its value arrives
// through the watch).
func (s *Syncer) createRandom(ctx context.Context, nn types.NamespacedName, key string) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: nn.Name, Namespace: nn.Namespace,
			Labels: map[string]string{traffic.RouterComponentLabel: traffic.RouterComponent},
		},
		Data: map[string][]byte{key: []byte(rand.Text())},
	}
	err := s.client.Create(ctx, sec)
	if err == nil {
		s.log.Info("created a Secret with a random "+key, "secret", nn)
	}
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// syncAdminToken hands a new admin token to Options.OnAdminToken; a
// missing Secret is created with a random token (by the first replica to
// find it missing; the others read that one). Until a token is known the
// admin API refuses every authenticated request.
func (s *Syncer) syncAdminToken(ctx context.Context) {
	if s.adminWatch == nil {
		return
	}
	tok, ok, err := s.adminWatch.value(ctx, AdminTokenKey)
	switch {
	case err != nil:
		s.log.Warn("reading the admin token Secret", "secret", s.adminWatch.nn, "err", err)
		return
	case !ok:
		if time.Since(s.tokenTried) >= s.opts.RenewInterval {
			s.tokenTried = time.Now()
			if err := s.createRandom(ctx, s.adminWatch.nn, AdminTokenKey); err != nil {
				s.log.Error("the admin token Secret is missing or has no key "+AdminTokenKey+" and creating it failed; create it yourself (kubectl create secret generic NAME --from-literal=token=RANDOM)",
					"secret", s.adminWatch.nn, "err", err)
			}
		}
		return
	case tok == s.tokenSeen:
		return
	}
	s.tokenSeen = tok
	s.log.Info("admin API token taken from the Secret", "secret", s.adminWatch.nn)
	if s.opts.OnAdminToken != nil {
		s.opts.OnAdminToken(tok)
	}
}

// overrides is the table's override configuration: base's, with the
// override secret from its Secret when one is named. A Secret named but
// missing (or without the key) turns overrides off rather than leave
// them open to anyone: the Secret is how its owner limits them.
func (s *Syncer) overrides(ctx context.Context) (disabled bool, secret string, err error) {
	if s.overrideWatch == nil {
		return s.base.Overrides.Disabled, s.base.Overrides.Secret, nil
	}
	v, ok, err := s.overrideWatch.value(ctx, OverrideSecretKey)
	if err != nil {
		return true, "", err
	}
	if !ok {
		return true, "", nil
	}
	return s.base.Overrides.Disabled, v, nil
}
