package dev.countersign.core;

/** The request clashes with what is already recorded (e.g. an idempotency key reused for another ask). */
public class ConflictException extends CountersignException {
    public ConflictException(String code, String message) {
        super(code, message);
    }
}
