// Package nts is a client of the National Tax Service business registration
// status API (공공데이터포털 dataset 15081808, "국세청_사업자등록정보 진위확인 및
// 상태조회 서비스").
package nts

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
)

// MaxBatch is the most numbers one status request may carry.
const MaxBatch = 100

// State is a business's registration state.
type State string

// The states the API reports (b_stt_cd 01, 02, 03, and empty).
const (
	StateActive        State = "active"
	StateSuspended     State = "suspended"
	StateClosed        State = "closed"
	StateNotRegistered State = "not_registered"
)

// Status is the API's answer for one number.
type Status struct {
	Number  string // ten digits
	State   State
	Code    string // b_stt_cd
	TaxType string // tax_type (Korean text)
	EndDate string // end_dt, YYYYMMDD when closed
}

// Error is a refusal by the API or a failure to reach it.
type Error struct {
	HTTPStatus int    // 0 when no answer arrived
	Code       string // status_code of the body, when there was one
	Err        error  // the transport error, when there was one
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil:
		return "nts: " + e.Err.Error()
	case e.Code != "":
		return fmt.Sprintf("nts: HTTP %d %s", e.HTTPStatus, e.Code)
	default:
		return fmt.Sprintf("nts: HTTP %d", e.HTTPStatus)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether a retry may succeed: no answer, a timeout, a
// server error or a body that could not be read. Refusals (4xx: a bad key, a
// malformed or too large request) are permanent.
func (e *Error) Temporary() bool {
	switch e.Code {
	case "BAD_JSON_REQUEST", "REQUEST_DATA_MALFORMED", "TOO_LARGE_REQUEST":
		return false
	case "INTERNAL_ERROR":
		return true
	}
	if e.HTTPStatus == 0 || e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests {
		return true
	}
	return e.HTTPStatus < 400
}

// Client calls the status API.
type Client struct {
	baseURL    string
	serviceKey string
	timeout    time.Duration
	http       *http.Client
}

// NewClient returns a client of the API at baseURL (without /status) that
// authenticates with serviceKey and gives each call timeout.
func NewClient(baseURL, serviceKey string, timeout time.Duration, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), serviceKey: serviceKey, timeout: timeout, http: hc}
}

type statusRequest struct {
	BNo []string `json:"b_no"`
}

type statusResponse struct {
	StatusCode string `json:"status_code"`
	RequestCnt int    `json:"request_cnt"`
	MatchCnt   int    `json:"match_cnt"`
	Data       []struct {
		BNo     string `json:"b_no"`
		BStt    string `json:"b_stt"`
		BSttCd  string `json:"b_stt_cd"`
		TaxType string `json:"tax_type"`
		EndDt   string `json:"end_dt"`
	} `json:"data"`
}

// Status asks for the state of each number (ten digits, no hyphens), in
// requests of at most MaxBatch numbers. Every number asked for is in the
// answer.
func (c *Client) Status(ctx context.Context, numbers []string) (map[string]Status, error) {
	out := make(map[string]Status, len(numbers))
	for start := 0; start < len(numbers); start += MaxBatch {
		end := min(start+MaxBatch, len(numbers))
		if err := c.status(ctx, numbers[start:end], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Client) status(ctx context.Context, numbers []string, out map[string]Status) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := json.Marshal(statusRequest{BNo: numbers})
	if err != nil {
		return fmt.Errorf("nts: %w", err)
	}
	q := url.Values{"serviceKey": {c.serviceKey}, "returnType": {"JSON"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/status?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("nts: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The client's error quotes the URL, whose query holds the service
		// key: errors end up in logs and activity failures.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = c.baseURL + "/status"
		}
		return &Error{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Err: err}
	}
	var sr statusResponse
	decodeErr := json.Unmarshal(raw, &sr)
	if resp.StatusCode != http.StatusOK || (decodeErr == nil && sr.StatusCode != "" && sr.StatusCode != "OK") {
		return &Error{HTTPStatus: resp.StatusCode, Code: sr.StatusCode}
	}
	if decodeErr != nil {
		return &Error{HTTPStatus: resp.StatusCode, Err: fmt.Errorf("malformed answer: %w", decodeErr)}
	}
	for _, d := range sr.Data {
		s := Status{Number: d.BNo, Code: d.BSttCd, TaxType: d.TaxType, EndDate: d.EndDt}
		switch d.BSttCd {
		case "01":
			s.State = StateActive
		case "02":
			s.State = StateSuspended
		case "03":
			s.State = StateClosed
		case "":
			s.State = StateNotRegistered
		default:
			return &Error{HTTPStatus: resp.StatusCode, Err: fmt.Errorf("unknown b_stt_cd %q", d.BSttCd)}
		}
		out[d.BNo] = s
	}
	for _, n := range numbers {
		if _, ok := out[n]; !ok {
			return &Error{HTTPStatus: resp.StatusCode, Err: errors.New("answer lacks number " + mask(n))}
		}
	}
	return nil
}

// mask keeps a business number's first three digits (its tax office) so an
// error can be told apart without quoting the whole number.
func mask(n string) string {
	if len(n) <= 3 {
		return n
	}
	return n[:3] + strings.Repeat("*", len(n)-3)
}
