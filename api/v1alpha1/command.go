package v1alpha1

import (
	"bytes"
	"fmt"
	"text/template"
)

// CommandData is what a local platform's command template may use. Any
// other field is refused by validation, so a typo fails at lint time rather
// than when the canary starts.
type CommandData struct {
	Revision string
	Port     int
	Name     string
	Instance int
	// Kanaria is the path of the running kanaria binary.
	Kanaria string
}

// ParseCommand parses a command template; missing keys are errors.
func ParseCommand(command string) (*template.Template, error) {
	return template.New("command").Option("missingkey=error").Parse(command)
}

// RenderCommand renders the local platform's command for one instance.
func (l LocalPlatform) RenderCommand(d CommandData) (string, error) {
	t, err := ParseCommand(l.Command)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("command template: %w", err)
	}
	return b.String(), nil
}
