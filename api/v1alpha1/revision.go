package v1alpha1

import (
	"fmt"
	"regexp"
)

var revisionRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

// maxRevLength keeps a revision usable as a DNS label and a file name.
const maxRevLength = 63

// ValidateRevision checks a revision name. Revisions appear in process
// names, log file names, router headers and version keys, so they are kept
// to letters, digits, '.', '_' and '-'. The engine uses it for `start`.
func ValidateRevision(rev string) error {
	if rev == "" {
		return fmt.Errorf("revision is empty")
	}
	if len(rev) > maxRevLength || !revisionRe.MatchString(rev) {
		return fmt.Errorf("revision %q must be 1-%d letters, digits, '.', '_' or '-', starting and ending with a letter or digit", rev, maxRevLength)
	}
	return nil
}
