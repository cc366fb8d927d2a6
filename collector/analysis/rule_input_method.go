package analysis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	register(RuleSpec{ID: RuleInputMethod, Class: ClassWeak, Source: SourceReport, Weight: 1.0, Eval: inputMethod,
		Decay: Decay{Hold: 7 * 24 * time.Hour, Fade: 7 * 24 * time.Hour},
		Doc:   "input methods of `locale.foreign_input_languages` (Korean, Chinese, Russian, Persian, Japanese) are installed"})
}

// inputMethod: input methods of listed languages are installed.
func inputMethod(in Input) *pb.Evidence {
	l := in.Report.GetReport().GetLocale()
	var langs []string
	for _, lang := range l.GetInputLanguages() {
		if slices.Contains(in.Config.Locale.ForeignInputLanguages, lang) && !slices.Contains(langs, lang) {
			langs = append(langs, lang)
		}
	}
	if len(langs) == 0 {
		return nil
	}
	sort.Strings(langs)
	return in.evidence(RuleInputMethod,
		fmt.Sprintf("Input methods for %s are installed (%s).", strings.Join(langs, ", "), strings.Join(l.GetInputMethods(), ", ")),
		map[string]string{"languages": strings.Join(langs, ",")})
}
