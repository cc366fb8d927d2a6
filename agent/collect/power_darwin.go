package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// readPower asks `pmset -g batt` for the power source and battery, and
// IOKit's AppleClamshellState for the lid.
func readPower(ctx context.Context, env *Env) (*pb.Power, error) {
	out, err := env.Command(ctx, "pmset", "-g", "batt")
	if err != nil {
		return nil, err
	}
	p := parsePmsetBatt(out)
	if out, err := env.Command(ctx, "ioreg", "-r", "-k", "AppleClamshellState", "-d", "4"); err == nil {
		p.Lid = parseClamshell(out)
	}
	return p, nil
}
