package v1alpha1

// DeepCopy for the types that hold time.Time, which controller-gen's object
// generator cannot copy (it looks for a DeepCopyInto method). A time.Time is a
// value whose only pointer, its *Location, is immutable, so assigning it is a
// deep copy.

// DeepCopyInto copies c into out.
func (c *Condition) DeepCopyInto(out *Condition) { *out = *c }

// DeepCopy returns a copy of c.
func (c *Condition) DeepCopy() *Condition {
	if c == nil {
		return nil
	}
	out := new(Condition)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing nothing mutable.
func (s *RolloutStatus) DeepCopyInto(out *RolloutStatus) {
	*out = *s
	if s.ObservedWeights != nil {
		w := *s.ObservedWeights
		out.ObservedWeights = &w
	}
	out.Traffic = s.Traffic.DeepCopy()
	if s.Mirrors != nil {
		out.Mirrors = make([]MirrorRoute, len(s.Mirrors))
		for i := range s.Mirrors {
			s.Mirrors[i].DeepCopyInto(&out.Mirrors[i])
		}
	}
	if s.HeaderRoutes != nil {
		out.HeaderRoutes = make([]SetHeaderRoute, len(s.HeaderRoutes))
		for i := range s.HeaderRoutes {
			s.HeaderRoutes[i].DeepCopyInto(&out.HeaderRoutes[i])
		}
	}
	if s.Conditions != nil {
		out.Conditions = append([]Condition(nil), s.Conditions...)
	}
}

// DeepCopy returns a copy of s.
func (s *RolloutStatus) DeepCopy() *RolloutStatus {
	if s == nil {
		return nil
	}
	out := new(RolloutStatus)
	s.DeepCopyInto(out)
	return out
}
