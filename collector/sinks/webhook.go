package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// deliverer hands one event to an output's receiver. status is the HTTP
// status where there is one (0 otherwise).
type deliverer interface {
	deliver(ctx context.Context, ev *pb.AlertEvent) (status int, err error)
	close() error
}

// EventJSON is the body of a webhook: the event as protojson with the
// proto field names (id, type, at, actor, alert, previous_score; the
// alert's fields as in `farmwatch alerts get -o json`).
func EventJSON(ev *pb.AlertEvent) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
}

// WebhookID is the webhook-id of an event: stable across retries, so a
// receiver that saw it already can drop the repeat.
func WebhookID(ev *pb.AlertEvent) string {
	if ev.GetType() == testEventType {
		return fmt.Sprintf("evt_test_%d", ev.GetAt().AsTime().UnixNano())
	}
	return fmt.Sprintf("evt_%d", ev.GetId())
}

func newHTTPClient() *http.Client {
	return &http.Client{
		// A redirect is not followed: the receiver is the URL configured,
		// and a 3xx is a failed delivery like any other non-2xx.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
	}
}

type webhook struct {
	out    *Output
	client *http.Client
	now    func() time.Time
}

func (w *webhook) deliver(ctx context.Context, ev *pb.AlertEvent) (int, error) {
	body, err := EventJSON(ev)
	if err != nil {
		return 0, err
	}
	h := http.Header{}
	id, at := WebhookID(ev), w.now()
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
	h.Set(HeaderSignature, Sign(w.out.secret, id, at, body))
	return post(ctx, w.client, w.out, h, body)
}

func (w *webhook) close() error { w.client.CloseIdleConnections(); return nil }

// post sends body and reads (a bounded part of) the answer; any 2xx is a
// delivery. Errors name the output's safe target, never the full URL
// (a Slack URL's path is its secret).
func post(ctx context.Context, c *http.Client, out *Output, h http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, out.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("POST %s: %v", out.Target(), scrubURLError(err))
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "farmwatch-collector")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %v", out.Target(), scrubURLError(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("POST %s: the receiver answered %s", out.Target(), resp.Status)
	}
	return resp.StatusCode, nil
}

func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return errors.New("no answer within the timeout")
		}
		return ue.Err
	}
	return err
}

type slack struct {
	out    *Output
	client *http.Client
}

func (s *slack) deliver(ctx context.Context, ev *pb.AlertEvent) (int, error) {
	body, err := SlackMessage(ev)
	if err != nil {
		return 0, err
	}
	return post(ctx, s.client, s.out, http.Header{}, body)
}

func (s *slack) close() error { s.client.CloseIdleConnections(); return nil }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackMessage is the body posted to a Slack incoming webhook: text (the
// notification and fallback) and blocks (a section and a context line).
// Text from the alert is escaped, so a hostname cannot mention @channel
// or forge a link.
func SlackMessage(ev *pb.AlertEvent) ([]byte, error) {
	a := ev.GetAlert()
	headline := fmt.Sprintf("farmwatch: %s alert %s %s, score %.2f", a.GetKind(), a.GetId(), strings.ReplaceAll(ev.GetType(), "_", " "), a.GetScore())
	if ev.GetType() != "opened" && ev.GetType() != testEventType {
		headline += fmt.Sprintf(" (was %.2f)", ev.GetPreviousScore())
	}
	summary := a.GetSummary()
	ctxLine := fmt.Sprintf("event %d · status %s · peak %.2f", ev.GetId(), a.GetStatus(), a.GetPeakScore())
	if a.GetHireId() != "" {
		ctxLine += " · hire " + a.GetHireId()
	}
	if a.GetDeviceId() != "" {
		ctxLine += " · device " + a.GetDeviceId()
	}
	if ev.GetActor() != "" {
		ctxLine += " · by " + ev.GetActor()
	}
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	msg := struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{
		Text: slackEscaper.Replace(headline + ": " + summary),
		Blocks: []block{
			{Type: "section", Text: &text{Type: "mrkdwn", Text: "*" + slackEscaper.Replace(headline) + "*\n" + slackEscaper.Replace(summary)}},
			{Type: "context", Elements: []text{{Type: "mrkdwn", Text: slackEscaper.Replace(ctxLine)}}},
		},
	}
	return json.Marshal(msg)
}
