//go:build !linux && !darwin && !windows

package collect

import (
	"context"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func listUSB(context.Context, *Env) ([]usbDevice, error) { return nil, ErrNotSupported }

func listDisplays(context.Context, *Env) ([]*pb.Display, error) { return nil, ErrNotSupported }

func readActivity(context.Context, *Env) (*pb.Activity, error) { return nil, ErrNotSupported }

func readPower(context.Context, *Env) (*pb.Power, error) { return nil, ErrNotSupported }
