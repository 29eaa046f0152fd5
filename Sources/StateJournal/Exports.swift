// The domain types (state, events, errors, the store protocol) are part of
// this library's API: `import StateJournal` is all a user writes.
@_exported import StateJournalModel
