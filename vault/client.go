package vault

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cosmos/cosmos-sdk/crypto/keyring"
)

// Client talks to a vault on behalf of one keyring account.
type Client struct {
	BaseURL string
	Keyring keyring.Keyring
	UID     string // keyring entry name
	Address string // its bech32 address
	HTTP    *http.Client
}

// StatusError is a vault's refusal: the HTTP status and its message.
type StatusError struct {
	Status  int
	Message string
	// RetryAfter is the wait the vault asked for (429), if it said.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("vault: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// ErrGone is the vault's answer for a record that was erased.
var ErrGone = errors.New("the record was erased")

// ErrUnreachable marks a request that got no answer from the vault (refused
// connection, timeout, DNS).
var ErrUnreachable = errors.New("vault unreachable")

// maxRetries bounds how often a request without a body is sent again after a
// 429 (the vault's per-account rate limit), waiting as Retry-After says (at
// most maxRetryWait each time).
const (
	maxRetries   = 5
	maxRetryWait = 5 * time.Second
)

// send makes a signed request to path and, on a 429 (the vault's
// per-account rate limit), makes it again, waiting as Retry-After says (at
// most maxRetryWait each time). newBody returns a fresh body for each attempt
// (nil: no body); the vault answers 429 before reading any of it.
func (c *Client) send(ctx context.Context, method, path string, newBody func() io.Reader, size int64, content string,
) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var body io.Reader
		if newBody != nil {
			body = newBody()
		}
		resp, err := c.once(ctx, method, path, body, size, content)
		var se *StatusError
		if attempt == maxRetries || !errors.As(err, &se) || se.Status != http.StatusTooManyRequests {
			return resp, err
		}
		wait := se.RetryAfter
		if wait <= 0 || wait > maxRetryWait {
			wait = maxRetryWait
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, body io.Reader, size int64, content string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	if err := SignRequest(req, c.Keyring, c.UID, c.Address, content, time.Now()); err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.BaseURL, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		if resp.StatusCode == http.StatusGone {
			return nil, fmt.Errorf("%w: %s", ErrGone, e.Error)
		}
		se := &StatusError{Status: resp.StatusCode, Message: e.Error}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			se.RetryAfter = time.Duration(secs) * time.Second
		}
		return nil, se
	}
	return resp, nil
}

// defaultHTTP never follows redirects (signed headers must not travel to
// another host) and keeps enough idle connections for parallel transfers.
var defaultHTTP = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		return t
	}(),
}

// Put uploads size bytes from r, whose SHA-256 is h.
func (c *Client) Put(ctx context.Context, h Hash, r io.Reader, size int64) error {
	resp, err := c.once(ctx, http.MethodPut, "/v1/blobs/"+h.String(), r, size, h.String())
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// ErrCorrupt is returned when a download does not hash to its name.
var ErrCorrupt = errors.New("the vault sent bytes that do not match the record's hash")

// Get downloads blob h into w, at most maxSize bytes, hashing as it goes: a
// download that does not hash to h returns ErrCorrupt (write to a temporary
// file, keep it only without error).
func (c *Client) Get(ctx context.Context, h Hash, w io.Writer, maxSize int64) (int64, error) {
	return c.download(ctx, "/v1/blobs/"+h.String(), h, w, maxSize)
}

// GetByReceipt downloads the blob of the record that access receipt id is
// for, which must be h, as Get does: the vault finds the record from the
// receipt (one query) instead of scanning the record's receipts.
func (c *Client) GetByReceipt(ctx context.Context, id uint64, h Hash, w io.Writer, maxSize int64) (int64, error) {
	return c.download(ctx, "/v1/receipts/"+strconv.FormatUint(id, 10)+"/blob", h, w, maxSize)
}

func (c *Client) download(ctx context.Context, path string, h Hash, w io.Writer, maxSize int64) (int64, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, 0, EmptySHA256)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, hasher), io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return n, err
	}
	if n > maxSize || Hash(hasher.Sum(nil)) != h {
		return n, ErrCorrupt
	}
	return n, nil
}
