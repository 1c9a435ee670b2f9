// Package cobra is a stub of github.com/spf13/cobra.
package cobra

type Command struct {
	Use  string
	Run  func(cmd *Command, args []string)
	RunE func(cmd *Command, args []string) error
}

func (c *Command) Execute() error { return nil }
