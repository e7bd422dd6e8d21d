// Package ops is what operators do to sign-ups — list, show, retry,
// resend the invitation, cancel, erase — through the admin API or straight
// through Temporal when the API is down.
package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/workflows"
)

// Action is an operator's command to a sign-up.
type Action string

// The actions.
const (
	Retry        Action = "retry"
	ResendInvite Action = "resend-invite"
	Cancel       Action = "cancel"
	// Erase erases an ended sign-up's personal data now (a person's request).
	Erase Action = "erase"
)

// Backend reaches the sign-ups.
type Backend interface {
	List(ctx context.Context, status string, limit int) ([]signup.AdminView, error)
	Show(ctx context.Context, id string) (signup.AdminView, error)
	Do(ctx context.Context, id string, a Action, in signup.OperatorInput) (signup.View, error)
}

// Error is a refusal, with the contract's code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// API talks to the admin API with ADMIN_TOKEN.
type API struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

func (a *API) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error.Code == "" {
			e.Error.Code, e.Error.Message = "http_"+strconv.Itoa(res.StatusCode), strings.TrimSpace(string(raw))
		}
		return &Error{Status: res.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	return json.Unmarshal(raw, out)
}

// List lists sign-ups, newest first.
func (a *API) List(ctx context.Context, status string, limit int) ([]signup.AdminView, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if status != "" {
		q.Set("status", status)
	}
	var out struct {
		Signups []signup.AdminView `json:"signups"`
	}
	err := a.call(ctx, http.MethodGet, "/api/v1/admin/signups?"+q.Encode(), nil, &out)
	return out.Signups, err
}

// Show returns one sign-up with its last error.
func (a *API) Show(ctx context.Context, id string) (signup.AdminView, error) {
	var v signup.AdminView
	err := a.call(ctx, http.MethodGet, "/api/v1/admin/signups/"+url.PathEscape(id), nil, &v)
	return v, err
}

// Do retries, resends or cancels.
func (a *API) Do(ctx context.Context, id string, act Action, in signup.OperatorInput) (signup.View, error) {
	var v signup.View
	err := a.call(ctx, http.MethodPost, "/api/v1/admin/signups/"+url.PathEscape(id)+"/"+string(act), in, &v)
	return v, err
}

// Temporal talks to the workflows directly.
type Temporal struct {
	Client client.Client
	// TaskQueue is where the workers run the purge workflow that erases a
	// sign-up.
	TaskQueue string
}

// List finds sign-up workflows by their SignupStatus search attribute.
func (t *Temporal) List(ctx context.Context, status string, limit int) ([]signup.AdminView, error) {
	query := "WorkflowType = '" + workflows.SignupWorkflowName + "'"
	if status != "" {
		if strings.ContainsAny(status, `'"\`) {
			return nil, &Error{Status: 422, Code: "validation_failed", Message: "bad status"}
		}
		query += " AND SignupStatus = '" + status + "'"
	}
	resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("temporal: %w", err)
	}
	out := make([]signup.AdminView, 0, len(resp.Executions))
	for _, e := range resp.Executions {
		id := strings.TrimPrefix(e.Execution.WorkflowId, "signup-")
		v, err := t.Show(ctx, id)
		if err != nil {
			// A closed workflow answers no query here; show what visibility knows.
			v = signup.AdminView{View: signup.View{SignupID: id}, WorkflowID: e.Execution.WorkflowId, RunID: e.Execution.RunId}
			if p := e.SearchAttributes.GetIndexedFields()["SignupStatus"]; p != nil {
				var st string
				if json.Unmarshal(p.Data, &st) == nil {
					v.Status = signup.Status(st)
				}
			}
		}
		out = append(out, v)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Show queries the workflow for its view and last error.
func (t *Temporal) Show(ctx context.Context, id string) (signup.AdminView, error) {
	var v signup.AdminView
	enc, err := t.Client.QueryWorkflow(ctx, signup.WorkflowID(id), "", workflows.QueryAdminView)
	if err != nil {
		return v, fmt.Errorf("temporal: %w", err)
	}
	err = enc.Get(&v)
	return v, err
}

// Do sends the operator's Update; an erase runs the purge workflow for the
// one sign-up.
func (t *Temporal) Do(ctx context.Context, id string, act Action, in signup.OperatorInput) (signup.View, error) {
	if act == Erase {
		return t.erase(ctx, id, in)
	}
	name := map[Action]string{Retry: workflows.UpdateRetry, ResendInvite: workflows.UpdateResendInvite, Cancel: workflows.UpdateCancel}[act]
	if name == "" {
		return signup.View{}, fmt.Errorf("unknown action %q", act)
	}
	h, err := t.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: signup.WorkflowID(id), UpdateName: name, Args: []any{in}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var v signup.View
	if err == nil {
		err = h.Get(ctx, &v)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return v, &Error{Status: 409, Code: app.Type(), Message: app.Message()}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return v, &Error{Status: 409, Code: "workflow_closed", Message: "the sign-up's workflow has ended; nothing more can change it"}
	}
	return v, err
}

// erase starts the purge workflow for one sign-up (on a worker, which holds
// the database and the certificate store) and waits for it.
func (t *Temporal) erase(ctx context.Context, id string, in signup.OperatorInput) (signup.View, error) {
	run, err := t.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "erase-" + id,
		TaskQueue:                t.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: 10 * time.Minute,
	}, workflows.PurgeWorkflowName, workflows.PurgeInput{SignupID: id, Operator: in.Operator, Reason: in.Reason})
	if err != nil {
		return signup.View{}, fmt.Errorf("temporal: %w", err)
	}
	var res workflows.PurgeResult
	err = run.Get(ctx, &res)
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		status := 409
		if app.Type() == "signup_not_found" {
			status = 404
		}
		return signup.View{}, &Error{Status: status, Code: app.Type(), Message: app.Message()}
	}
	if err != nil {
		return signup.View{}, fmt.Errorf("temporal: %w", err)
	}
	if res.Signup == nil {
		return signup.View{}, errors.New("the erase workflow returned no sign-up")
	}
	return res.Signup.View, nil
}
