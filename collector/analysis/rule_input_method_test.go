package analysis

import (
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func TestInputMethod(t *testing.T) {
	fires(t, "Korean IME", inputMethod, in(func(i *Input) {
		i.Report.Report.Locale = &pb.Locale{InputMethods: []string{"ibus:hangul"}, InputLanguages: []string{"ko"}}
	}), true)
	fires(t, "Spanish layout", inputMethod, in(func(i *Input) {
		i.Report.Report.Locale = &pb.Locale{KeyboardLayouts: []string{"es"}, InputLanguages: []string{"es"}}
	}), false)
}
