-- When each card last earned a birthday bonus: the time (nanoseconds since 1970,
-- like events.at_unix_ns) of the latest sale whose body has "birthday_bonus" above
-- zero; NULL when none did. Tills pay the bonus once per birthday from it
-- (pos.Account.BirthdayBonus). Sales recorded before this field existed carry no
-- "birthday_bonus", so there is nothing to fill in.
ALTER TABLE cards ADD COLUMN birthday_bonus_unix_ns bigint;
