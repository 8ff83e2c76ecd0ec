package fhir

// Summaries: what a person sees of a decrypted resource in the portal's
// timeline and record view — what it is, when it happened, its value — read
// with the typed R4 models of github.com/samply/golang-fhir-models. They are
// built on the reader's own machine from plaintext it already holds; nothing
// here reaches the chain, the vault or a log.

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	fm "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Summary is one resource as a person reads it.
type Summary struct {
	// Type is the resourceType ("" if the plaintext is not a FHIR resource).
	Type string `json:"type"`
	// Title says what it is: the code's text or display, the medication, the
	// vaccine, the document's title.
	Title string `json:"title"`
	// Value is the result or the instruction, in a few words: "7.9 %",
	// "1 tablet twice daily", "high criticality".
	Value string `json:"value,omitempty"`
	// Date is the clinical date as the resource writes it (a FHIR date or
	// dateTime, possibly partial: "2019", "2019-03"): when it happened, was
	// given, was prescribed, not when it was filed.
	Date string `json:"date,omitempty"`
	// Status is the resource's status, or the clinical status of a
	// condition or an allergy ("active", "final", "completed").
	Status string `json:"status,omitempty"`
	// Code is the first coding as system|code, so that two results of the
	// same test can be told apart from two different tests.
	Code string `json:"code,omitempty"`
	// Category is the observation category code ("laboratory",
	// "vital-signs"), when there is one.
	Category string `json:"category,omitempty"`
	// Fields are the record view's labelled lines, in order.
	Fields []Field `json:"fields,omitempty"`
	// Attachment is a document's inline attachment, if it has one.
	Attachment *Attachment `json:"attachment,omitempty"`
}

// Field is one labelled line of a record view.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Attachment is an inline document attachment: its type, title and, for
// text, the decoded text (at most maxAttachmentText bytes).
type Attachment struct {
	ContentType string `json:"content_type,omitempty"`
	Title       string `json:"title,omitempty"`
	Text        string `json:"text,omitempty"`
	Size        int    `json:"size"`
}

const maxAttachmentText = 64 << 10

// Summarize reads a resource's plaintext. It never fails: plaintext that is
// not a resource it knows, or that its model refuses, gets what can be read
// of it (its type, at least) and a title that says so.
func Summarize(raw []byte) Summary {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.ResourceType == "" {
		return Summary{Title: "Not a FHIR resource"}
	}
	s := Summary{Type: head.ResourceType}
	if err := s.read(raw); err != nil {
		s = Summary{Type: head.ResourceType}
	}
	if s.Title == "" {
		s.Title = head.ResourceType
	}
	s.add("Date", s.Date)
	s.add("Status", s.Status)
	return s
}

// read fills s from raw with the model of s.Type.
func (s *Summary) read(raw []byte) error {
	switch s.Type {
	case "Observation":
		r, err := fm.UnmarshalObservation(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(&r.Code), coding(&r.Code)
		s.Date = first(r.EffectiveDateTime, r.EffectiveInstant, periodStart(r.EffectivePeriod), r.Issued)
		s.Status = r.Status.Code()
		for _, c := range r.Category {
			if len(c.Coding) > 0 && c.Coding[0].Code != nil {
				s.Category = *c.Coding[0].Code
				break
			}
		}
		s.Value = first(quantity(r.ValueQuantity), ptr(concept(r.ValueCodeableConcept)), r.ValueString, boolText(r.ValueBoolean),
			intText(r.ValueInteger), r.ValueDateTime, r.ValueTime)
		s.add("Test", s.Title)
		s.add("Value", s.Value)
		if len(r.ReferenceRange) > 0 {
			s.add("Reference range", referenceRange(r.ReferenceRange[0]))
		}
		s.add("Interpretation", conceptList(r.Interpretation))
		s.add("Category", s.Category)
		s.add("Note", notes(r.Note))
	case "Condition":
		r, err := fm.UnmarshalCondition(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(r.Code), coding(r.Code)
		s.Date = first(r.OnsetDateTime, periodStart(r.OnsetPeriod), r.OnsetString, r.RecordedDate)
		s.Status = codeOf(r.ClinicalStatus)
		s.Value = concept(r.Severity)
		s.add("Condition", s.Title)
		s.add("Severity", s.Value)
		s.add("Verification", codeOf(r.VerificationStatus))
		s.add("Recorded", deref(r.RecordedDate))
		s.add("Note", notes(r.Note))
	case "MedicationRequest":
		r, err := fm.UnmarshalMedicationRequest(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(&r.MedicationCodeableConcept), coding(&r.MedicationCodeableConcept)
		if s.Title == "" {
			s.Title = deref(r.MedicationReference.Display)
		}
		s.Date, s.Status = deref(r.AuthoredOn), r.Status
		s.Value = dosage(r.DosageInstruction)
		s.add("Medication", s.Title)
		s.add("Dosage", s.Value)
		s.add("Reason", conceptList(r.ReasonCode))
		s.add("Note", notes(r.Note))
	case "MedicationStatement":
		r, err := fm.UnmarshalMedicationStatement(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(&r.MedicationCodeableConcept), coding(&r.MedicationCodeableConcept)
		if s.Title == "" {
			s.Title = deref(r.MedicationReference.Display)
		}
		s.Date, s.Status = first(r.EffectiveDateTime, periodStart(r.EffectivePeriod)), r.Status
		s.Value = dosage(r.Dosage)
		s.add("Medication", s.Title)
		s.add("Dosage", s.Value)
		s.add("Note", notes(r.Note))
	case "Immunization":
		r, err := fm.UnmarshalImmunization(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(&r.VaccineCode), coding(&r.VaccineCode)
		s.Date, s.Status = first(&r.OccurrenceDateTime, &r.OccurrenceString, r.Recorded), r.Status.Code()
		s.add("Vaccine", s.Title)
		s.add("Lot", deref(r.LotNumber))
		s.add("Note", notes(r.Note))
	case "AllergyIntolerance":
		r, err := fm.UnmarshalAllergyIntolerance(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(r.Code), coding(r.Code)
		s.Date, s.Status = first(r.OnsetDateTime, r.OnsetString, r.RecordedDate), codeOf(r.ClinicalStatus)
		if r.Criticality != nil {
			s.Value = r.Criticality.Code() + " criticality"
		}
		var reactions []string
		for _, re := range r.Reaction {
			reactions = append(reactions, conceptList(re.Manifestation))
		}
		s.add("Substance", s.Title)
		s.add("Criticality", s.Value)
		s.add("Reaction", strings.Join(reactions, "; "))
		s.add("Note", notes(r.Note))
	case "Procedure":
		r, err := fm.UnmarshalProcedure(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(r.Code), coding(r.Code)
		s.Date, s.Status = first(r.PerformedDateTime, periodStart(r.PerformedPeriod), r.PerformedString), r.Status.Code()
		s.add("Procedure", s.Title)
		s.add("Reason", conceptList(r.ReasonCode))
		s.add("Note", notes(r.Note))
	case "DiagnosticReport":
		r, err := fm.UnmarshalDiagnosticReport(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = concept(&r.Code), coding(&r.Code)
		s.Date, s.Status = first(r.EffectiveDateTime, periodStart(r.EffectivePeriod), r.Issued), r.Status.Code()
		s.Value = deref(r.Conclusion)
		s.add("Report", s.Title)
		s.add("Results", plural(len(r.Result), "result"))
		s.add("Conclusion", s.Value)
	case "DocumentReference":
		r, err := fm.UnmarshalDocumentReference(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code = first(r.Description, ptr(concept(r.Type))), coding(r.Type)
		s.Date, s.Status = deref(r.Date), r.Status.Code()
		if len(r.Content) > 0 {
			s.Attachment = attachment(r.Content[0].Attachment)
			if s.Title == "" {
				s.Title = s.Attachment.Title
			}
		}
		s.add("Document", s.Title)
		s.add("Kind", concept(r.Type))
		if s.Attachment != nil {
			s.add("Attachment", strings.TrimSpace(s.Attachment.Title+" "+s.Attachment.ContentType))
		}
	case "Encounter":
		r, err := fm.UnmarshalEncounter(raw)
		if err != nil {
			return err
		}
		s.Title = conceptList(r.Type)
		if s.Title == "" {
			s.Title = first(r.Class.Display, r.Class.Code)
			if s.Title != "" {
				s.Title = "Visit (" + s.Title + ")"
			}
		}
		s.Date, s.Status = first(periodStart(r.Period)), r.Status.Code()
		s.add("Visit", s.Title)
		s.add("Reason", conceptList(r.ReasonCode))
	case "Composition":
		r, err := fm.UnmarshalComposition(raw)
		if err != nil {
			return err
		}
		s.Title, s.Code, s.Date, s.Status = r.Title, coding(&r.Type), r.Date, r.Status.Code()
		s.add("Document", s.Title)
		s.add("Kind", concept(&r.Type))
	case "Patient":
		s.Title = "Patient details"
	default:
		// a resource without a model here: its code, if it has the usual one
		var r struct {
			Code   *fm.CodeableConcept `json:"code"`
			Status string              `json:"status"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		s.Title, s.Code, s.Status = concept(r.Code), coding(r.Code), r.Status
	}
	return nil
}

// add appends a labelled line, if it says something.
func (s *Summary) add(label, value string) {
	if value = strings.TrimSpace(value); value != "" {
		s.Fields = append(s.Fields, Field{Label: label, Value: value})
	}
}

// Text is what a search over the summary looks in: title, value, type,
// status and category, lower-cased.
func (s Summary) Text() string {
	return strings.ToLower(strings.Join([]string{s.Title, s.Value, s.Type, s.Status, s.Category}, " "))
}

// concept is a CodeableConcept's text, else its first coding's display, else
// its first code.
func concept(c *fm.CodeableConcept) string {
	if c == nil {
		return ""
	}
	if c.Text != nil && strings.TrimSpace(*c.Text) != "" {
		return *c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != nil && *cd.Display != "" {
			return *cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != nil && *cd.Code != "" {
			return *cd.Code
		}
	}
	return ""
}

func conceptList(cs []fm.CodeableConcept) string {
	var out []string
	for i := range cs {
		if t := concept(&cs[i]); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// coding is a concept's first coding as system|code.
func coding(c *fm.CodeableConcept) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != nil && *cd.Code != "" {
			return deref(cd.System) + "|" + *cd.Code
		}
	}
	return ""
}

// codeOf is a concept's first code (a status such as "active").
func codeOf(c *fm.CodeableConcept) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.Code != nil && *cd.Code != "" {
			return *cd.Code
		}
	}
	return concept(c)
}

func quantity(q *fm.Quantity) *string {
	if q == nil || q.Value == nil {
		return nil
	}
	v := q.Value.String()
	if q.Comparator != nil {
		v = q.Comparator.Code() + v
	}
	if unit := first(q.Unit, q.Code); unit != "" {
		v += " " + unit
	}
	return &v
}

func referenceRange(r fm.ObservationReferenceRange) string {
	if r.Text != nil && *r.Text != "" {
		return *r.Text
	}
	lo, hi := quantity(r.Low), quantity(r.High)
	switch {
	case lo != nil && hi != nil:
		// "4.0 % – 5.6 %" reads better as "4.0 – 5.6 %" when the units agree
		if r.Low.Unit != nil && r.High.Unit != nil && *r.Low.Unit == *r.High.Unit {
			return r.Low.Value.String() + " – " + *hi
		}
		return *lo + " – " + *hi
	case lo != nil:
		return "≥ " + *lo
	case hi != nil:
		return "≤ " + *hi
	}
	return ""
}

func dosage(ds []fm.Dosage) string {
	for _, d := range ds {
		if t := first(d.Text, d.PatientInstruction); t != "" {
			return t
		}
	}
	return ""
}

func notes(ns []fm.Annotation) string {
	var out []string
	for _, n := range ns {
		if n.Text != "" {
			out = append(out, n.Text)
		}
	}
	return strings.Join(out, " ")
}

func attachment(a fm.Attachment) *Attachment {
	out := &Attachment{ContentType: deref(a.ContentType), Title: deref(a.Title)}
	if a.Size != nil {
		out.Size = *a.Size
	}
	if a.Data == nil {
		return out
	}
	data, err := base64.StdEncoding.DecodeString(*a.Data)
	if err != nil {
		return out
	}
	out.Size = len(data)
	if strings.HasPrefix(out.ContentType, "text/") && utf8.Valid(data) {
		if len(data) > maxAttachmentText {
			data = data[:maxAttachmentText]
		}
		out.Text = strings.ToValidUTF8(string(data), "")
	}
	return out
}

func periodStart(p *fm.Period) *string {
	if p == nil {
		return nil
	}
	return p.Start
}

func boolText(b *bool) *string {
	if b == nil {
		return nil
	}
	v := "no"
	if *b {
		v = "yes"
	}
	return &v
}

func intText(i *int) *string {
	if i == nil {
		return nil
	}
	v := strconv.Itoa(*i)
	return &v
}

func plural(n int, what string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// first is the first non-empty value.
func first(vs ...*string) string {
	for _, v := range vs {
		if v != nil && strings.TrimSpace(*v) != "" {
			return *v
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(s string) *string { return &s }
