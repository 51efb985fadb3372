package dev.countersign.core.approval;

/** A person who may decide, as shown to agents and channels. */
public record Person(String id, String name) {}
