// Package awsapi is the one home of how kanaria talks to AWS: the SDK's
// standard credential chain (environment, shared files and profile, the ECS
// task role, the EC2 instance role), the region, an endpoint override for
// every client, and the retryer that absorbs throttling with exponential
// backoff. Errors keep the SDK's operation and API error, prefixed with the
// resource they were about.
package awsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/kanaria-dev/kanaria/api/v1alpha1"
)

// DefaultMaxAttempts is how often one call is tried when AWS throttles or
// fails transiently.
const DefaultMaxAttempts = 8

// maxBackoff bounds one wait between attempts, so a reconcile tick waits
// seconds, not minutes, before it reports the error.
const maxBackoff = 5 * time.Second

// Config loads the SDK configuration a spec's AWS settings describe.
func Config(ctx context.Context, a v1alpha1.AWS) (aws.Config, error) {
	attempts := a.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = maxBackoff
				// Throttling is retried without draining the client's
				// retry quota: a release must outlast a burst of it.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	if a.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("aws configuration: no region (set aws.region in the spec or AWS_REGION)")
	}
	if a.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(a.Endpoint)
	}
	return cfg, nil
}

// Or is a's settings, or fallback's when a is nil (a traffic or metric
// provider defaults to the platform's AWS settings).
func Or(a *v1alpha1.AWS, fallback v1alpha1.AWS) v1alpha1.AWS {
	if a == nil {
		return fallback
	}
	return *a
}

// Err names the resource an AWS call was about; the SDK's error already
// says the service, operation, HTTP status, request id and API error.
func Err(resource string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", resource, err)
}
