// Package cli is a stub of github.com/mitchellh/cli.
package cli

type Command interface {
	Help() string
	Run(args []string) int
	Synopsis() string
}

type CommandFactory func() (Command, error)

type CLI struct {
	Args     []string
	Commands map[string]CommandFactory
}

func NewCLI(app, version string) *CLI { return &CLI{} }

func (c *CLI) Run() (int, error) { return 0, nil }
