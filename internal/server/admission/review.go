package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The AdmissionReview v1 wire shapes (k8s.io/api/admission/v1), with the
// exact JSON field names. Own structs rather than k8s.io/api: that module
// brings apimachinery, protobuf and a dozen more modules for a handful of
// fields.

// APIVersion is the only AdmissionReview version served.
const APIVersion = "admission.k8s.io/v1"

// MaxReviewSize bounds a request body: an object and its old object, each
// at most etcd's 1.5 MiB, plus the envelope.
const MaxReviewSize = 4 << 20

// Review is an AdmissionReview.
type Review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *Request  `json:"request,omitempty"`
	Response   *Response `json:"response,omitempty"`
}

// GroupVersionKind is metav1.GroupVersionKind.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// GroupVersionResource is metav1.GroupVersionResource.
type GroupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

// UserInfo is authenticationv1.UserInfo.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// Request is AdmissionRequest.
type Request struct {
	UID                string                `json:"uid"`
	Kind               GroupVersionKind      `json:"kind"`
	Resource           GroupVersionResource  `json:"resource"`
	SubResource        string                `json:"subResource,omitempty"`
	RequestKind        *GroupVersionKind     `json:"requestKind,omitempty"`
	RequestResource    *GroupVersionResource `json:"requestResource,omitempty"`
	RequestSubResource string                `json:"requestSubResource,omitempty"`
	Name               string                `json:"name,omitempty"`
	Namespace          string                `json:"namespace,omitempty"`
	Operation          string                `json:"operation"`
	UserInfo           UserInfo              `json:"userInfo"`
	Object             json.RawMessage       `json:"object,omitempty"`
	OldObject          json.RawMessage       `json:"oldObject,omitempty"`
	DryRun             *bool                 `json:"dryRun,omitempty"`
	Options            json.RawMessage       `json:"options,omitempty"`
}

// Response is AdmissionResponse (no patches: this webhook only validates).
type Response struct {
	UID              string            `json:"uid"`
	Allowed          bool              `json:"allowed"`
	Result           *Status           `json:"status,omitempty"`
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`
	Warnings         []string          `json:"warnings,omitempty"`
}

// Status is the part of metav1.Status a webhook sets.
type Status struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Code    int32  `json:"code,omitempty"`
}

// DecodeReview reads one AdmissionReview v1 carrying a request.
func DecodeReview(r io.Reader) (*Review, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReviewSize+1))
	if err != nil {
		return nil, fmt.Errorf("admission review: read: %w", err)
	}
	if len(data) > MaxReviewSize {
		return nil, fmt.Errorf("admission review: larger than %d bytes", MaxReviewSize)
	}
	var rv Review
	if err := json.Unmarshal(data, &rv); err != nil {
		return nil, fmt.Errorf("admission review: decode: %w", err)
	}
	if rv.APIVersion != APIVersion || rv.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("admission review: apiVersion %q kind %q: want %s AdmissionReview", rv.APIVersion, rv.Kind, APIVersion)
	}
	if rv.Request == nil {
		return nil, errors.New("admission review: no request")
	}
	if rv.Request.UID == "" {
		return nil, errors.New("admission review: request.uid is empty")
	}
	return &rv, nil
}

// Container is one image use in a pod spec.
type Container struct {
	// Field is where it is: "spec.template.spec.initContainers[0]".
	Field string
	Name  string
	Image string
}

type podSpec struct {
	InitContainers      []container `json:"initContainers"`
	Containers          []container `json:"containers"`
	EphemeralContainers []container `json:"ephemeralContainers"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

type podTemplate struct {
	Spec podSpec `json:"spec"`
}

// The object shapes the webhook reads, per kind: only the path to the pod
// spec.
type podObject struct {
	Spec podSpec `json:"spec"`
}

type templateObject struct {
	Spec struct {
		Template podTemplate `json:"template"`
	} `json:"spec"`
}

type cronJobObject struct {
	Spec struct {
		JobTemplate struct {
			Spec struct {
				Template podTemplate `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
}

// Containers lists every container image of an object of the given kind,
// init and ephemeral containers included. known is false for a kind the
// webhook does not judge.
func Containers(kind GroupVersionKind, object []byte) (cs []Container, known bool, err error) {
	var spec podSpec
	var prefix string
	switch kind.Group + "/" + kind.Kind {
	case "/Pod":
		var o podObject
		err, spec, prefix = json.Unmarshal(object, &o), o.Spec, "spec"
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "apps/ReplicaSet", "batch/Job", "/ReplicationController", "/PodTemplate":
		if kind.Kind == "PodTemplate" {
			var o struct {
				Template podTemplate `json:"template"`
			}
			err, spec, prefix = json.Unmarshal(object, &o), o.Template.Spec, "template.spec"
			break
		}
		var o templateObject
		err, spec, prefix = json.Unmarshal(object, &o), o.Spec.Template.Spec, "spec.template.spec"
	case "batch/CronJob":
		var o cronJobObject
		err, spec, prefix = json.Unmarshal(object, &o), o.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec"
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("admission review: decode %s object: %w", kind.Kind, err)
	}
	add := func(field string, list []container) {
		for i, c := range list {
			cs = append(cs, Container{Field: fmt.Sprintf("%s.%s[%d]", prefix, field, i), Name: c.Name, Image: c.Image})
		}
	}
	add("initContainers", spec.InitContainers)
	add("containers", spec.Containers)
	add("ephemeralContainers", spec.EphemeralContainers)
	return cs, true, nil
}
