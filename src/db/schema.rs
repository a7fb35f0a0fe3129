//! Hand-written schema shared by both backends: portable column types only.

diesel::table! {
    orgs (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<BigInt>,
        path -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    schools (org_id) {
        org_id -> BigInt,
        sponsor_type -> Text,
        urban_rural -> Text,
        school_type -> Text,
        in_county_seat -> Bool,
        address -> Text,
        postcode -> Text,
        phone -> Text,
        fax -> Text,
        email -> Text,
        homepage -> Text,
        principal_name -> Text,
        principal_phone_sealed -> Text,
        principal_mobile_sealed -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campuses (id) {
        id -> BigInt,
        school_id -> BigInt,
        campus_no -> Text,
        name -> Text,
        address -> Text,
    }
}

diesel::table! {
    teachers (id) {
        id -> BigInt,
        school_id -> BigInt,
        staff_no -> Text,
        name -> Text,
        sex -> Text,
        phone_sealed -> Text,
        subject -> Text,
        active -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    classes (id) {
        id -> BigInt,
        school_id -> BigInt,
        campus_id -> Nullable<BigInt>,
        class_no -> Text,
        name -> Text,
        grade -> Integer,
        entry_year -> Integer,
        head_teacher_id -> Nullable<BigInt>,
        updated_at -> Timestamp,
        graduated_year -> Nullable<Integer>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        org_id -> BigInt,
        password_hash -> Text,
        must_change_password -> Bool,
        status -> Text,
        failed_count -> Integer,
        first_failed_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        totp_secret_enc -> Nullable<Text>,
        totp_last_step -> BigInt,
        last_login_at -> Nullable<Timestamp>,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    account_requests (id) {
        id -> BigInt,
        user_id -> BigInt,
        action -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        status -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (ip) {
        ip -> Text,
        failures -> Integer,
        first_failed_at -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        ip -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        actor -> Text,
        org_path -> Text,
        ip -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        result -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(schools -> orgs (org_id));
diesel::joinable!(classes -> orgs (school_id));
diesel::joinable!(teachers -> orgs (school_id));
diesel::joinable!(campuses -> orgs (school_id));
diesel::joinable!(users -> orgs (org_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    student_no_counters (prefix) {
        prefix -> Text,
        highest -> Integer,
    }
}

diesel::table! {
    students (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> Nullable<BigInt>,
        county_code -> Text,
        student_no_sealed -> Text,
        name -> Text,
        sex -> Text,
        birth_date -> Date,
        id_type -> Text,
        id_no_sealed -> Nullable<Text>,
        attendance -> Text,
        yibu -> Bool,
        left_behind -> Text,
        migrant -> Bool,
        guardian_phone_sealed -> Nullable<Text>,
        guardian_id_no_sealed -> Nullable<Text>,
        status -> Text,
        review -> Text,
        problem -> Nullable<Text>,
        record_sealed -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        duplicate_of -> Nullable<BigInt>,
        form_key -> Nullable<Text>,
        id_no_hash -> Nullable<Text>,
        guardian_id_no_hash -> Nullable<Text>,
        guardian_phone_hash -> Nullable<Text>,
        student_no_hash -> Nullable<Text>,
    }
}

diesel::table! {
    sealing (id) {
        id -> Integer,
        sealed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    student_history (id) {
        id -> BigInt,
        student_id -> BigInt,
        field -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        reason -> Text,
        actor -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    key_locks (id) {
        id -> BigInt,
        org_id -> BigInt,
        school_year -> Integer,
        lock_date -> Date,
        extra_fields -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        sha256 -> Text,
        filename -> Text,
        content_type -> Text,
        bytes -> Binary,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    change_requests (id) {
        id -> BigInt,
        student_id -> BigInt,
        school_id -> BigInt,
        changes -> Text,
        reason -> Text,
        evidence_id -> BigInt,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        school_by -> Nullable<Text>,
        school_at -> Nullable<Timestamp>,
        school_note -> Nullable<Text>,
        county_by -> Nullable<Text>,
        county_at -> Nullable<Timestamp>,
        county_note -> Nullable<Text>,
    }
}

diesel::table! {
    student_photos (student_id) {
        student_id -> BigInt,
        bytes -> Binary,
        width -> Integer,
        height -> Integer,
        sha256 -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    student_merges (id) {
        id -> BigInt,
        survivor_id -> BigInt,
        merged_student_no_sealed -> Text,
        merged_school_id -> BigInt,
        merged_record_sealed -> Text,
        filled_fields -> Text,
        note -> Text,
        merged_by -> Text,
        merged_at -> Timestamp,
    }
}

diesel::table! {
    school_terms (id) {
        id -> BigInt,
        org_id -> BigInt,
        school_year -> Integer,
        term -> Integer,
        start_date -> Date,
        end_date -> Date,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    transfer_restrictions (id) {
        id -> BigInt,
        org_id -> BigInt,
        grade -> Integer,
        term -> Nullable<Integer>,
        note -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    workflow_steps (id) {
        id -> BigInt,
        kind -> Text,
        route -> Text,
        step_no -> Integer,
        side -> Text,
        level -> Text,
        role -> Text,
        label -> Text,
    }
}

diesel::table! {
    status_changes (id) {
        id -> BigInt,
        student_id -> BigInt,
        kind -> Text,
        route -> Text,
        from_school_id -> BigInt,
        to_school_id -> Nullable<BigInt>,
        to_class_id -> Nullable<BigInt>,
        effective_date -> Date,
        reason -> Text,
        evidence_id -> Nullable<BigInt>,
        status -> Text,
        step_no -> Integer,
        requested_by -> Text,
        requested_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        arrival_date -> Nullable<Date>,
    }
}

diesel::table! {
    status_change_steps (id) {
        id -> BigInt,
        change_id -> BigInt,
        step_no -> Integer,
        label -> Text,
        org_id -> BigInt,
        role -> Text,
        started -> Nullable<Date>,
        due -> Nullable<Date>,
        decision -> Nullable<Text>,
        note -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        escalated -> Bool,
    }
}

diesel::table! {
    promotions (id) {
        id -> BigInt,
        org_id -> BigInt,
        school_year -> Integer,
        graduation_date -> Date,
        status -> Text,
        plan -> Text,
        applied_by -> Text,
        applied_at -> Timestamp,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    student_spells (id) {
        id -> BigInt,
        student_id -> BigInt,
        state -> Text,
        school_id -> BigInt,
        class_id -> Nullable<BigInt>,
        from_date -> Date,
        to_date -> Nullable<Date>,
        cause -> Text,
        change_id -> Nullable<BigInt>,
        promotion_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(students -> orgs (school_id));
diesel::joinable!(key_locks -> orgs (org_id));
diesel::joinable!(change_requests -> students (student_id));
diesel::joinable!(student_photos -> students (student_id));
diesel::joinable!(account_requests -> users (user_id));
diesel::joinable!(student_history -> students (student_id));
diesel::joinable!(student_merges -> students (survivor_id));

diesel::joinable!(students -> classes (class_id));
diesel::joinable!(school_terms -> orgs (org_id));
diesel::joinable!(transfer_restrictions -> orgs (org_id));
diesel::joinable!(status_changes -> students (student_id));
diesel::joinable!(status_change_steps -> status_changes (change_id));
diesel::joinable!(status_change_steps -> orgs (org_id));
diesel::joinable!(promotions -> orgs (org_id));
diesel::joinable!(student_spells -> students (student_id));

diesel::table! {
    county_plans (id) {
        id -> BigInt,
        org_id -> BigInt,
        school_year -> Integer,
        plan_type -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    programme_schools (id) {
        id -> BigInt,
        school_id -> BigInt,
        from_date -> Date,
        to_date -> Nullable<Date>,
        seat_included -> Bool,
        note -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    subsidy_standards (id) {
        id -> BigInt,
        org_id -> Nullable<BigInt>,
        kind -> Text,
        from_date -> Date,
        to_date -> Nullable<Date>,
        amount_fen -> BigInt,
        note -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    central_shares (id) {
        id -> BigInt,
        plan_type -> Text,
        from_date -> Date,
        mode -> Text,
        amount_fen -> BigInt,
    }
}

diesel::table! {
    suppliers (id) {
        id -> BigInt,
        org_id -> BigInt,
        name -> Text,
        credit_code -> Text,
        contact -> Text,
        phone -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    meal_models (id) {
        id -> BigInt,
        school_id -> BigInt,
        model -> Text,
        from_date -> Date,
        to_date -> Nullable<Date>,
        supplier_id -> Nullable<BigInt>,
        class_ids -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    meal_calendars (id) {
        id -> BigInt,
        org_id -> BigInt,
        month -> Integer,
        days -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    rosters (id) {
        id -> BigInt,
        school_id -> BigInt,
        county_code -> Text,
        school_year -> Integer,
        term -> Integer,
        version -> Integer,
        snapshot_date -> Date,
        status -> Text,
        content_hash -> Text,
        student_count -> Integer,
        diff -> Text,
        built_by -> Text,
        built_at -> Timestamp,
        signed_by -> Nullable<Text>,
        signed_at -> Nullable<Timestamp>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        archived_by -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    roster_lines (roster_id, seq) {
        roster_id -> BigInt,
        seq -> Integer,
        student_id -> BigInt,
        student_no_sealed -> Text,
        name -> Text,
        sex -> Text,
        grade -> Integer,
        class_name -> Text,
        attendance -> Text,
        yibu -> Bool,
        left_behind -> Text,
        guardian_name -> Text,
        meal_model -> Text,
    }
}

diesel::joinable!(county_plans -> orgs (org_id));
diesel::joinable!(programme_schools -> orgs (school_id));
diesel::joinable!(suppliers -> orgs (org_id));
diesel::joinable!(meal_models -> orgs (school_id));
diesel::joinable!(meal_calendars -> orgs (org_id));
diesel::table! {
    roster_scans (id) {
        id -> BigInt,
        roster_id -> BigInt,
        pages -> Integer,
        printed_pages -> Integer,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    roster_scan_pages (scan_id, page_no) {
        scan_id -> BigInt,
        page_no -> Integer,
        file_id -> BigInt,
        file_page -> Integer,
        image_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(roster_scans -> rosters (roster_id));
diesel::joinable!(roster_scan_pages -> roster_scans (scan_id));
diesel::joinable!(rosters -> orgs (school_id));
diesel::joinable!(roster_lines -> rosters (roster_id));

diesel::table! {
    entitlement_rules (id) {
        id -> BigInt,
        org_id -> BigInt,
        rule -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    entitlement_periods (id) {
        id -> BigInt,
        school_id -> BigInt,
        county_code -> Text,
        month -> Integer,
        rule -> Text,
        status -> Text,
        students -> Integer,
        beneficiary_days -> Integer,
        amount_fen -> BigInt,
        adjustment_fen -> BigInt,
        computed_by -> Text,
        computed_at -> Timestamp,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    entitlement_lines (id) {
        id -> BigInt,
        period_id -> BigInt,
        student_id -> BigInt,
        kind -> Text,
        for_month -> Integer,
        days -> Integer,
        day_list -> Text,
        amount_fen -> BigInt,
    }
}

diesel::joinable!(entitlement_rules -> orgs (org_id));
diesel::joinable!(entitlement_periods -> orgs (school_id));
diesel::joinable!(entitlement_lines -> entitlement_periods (period_id));
diesel::joinable!(entitlement_lines -> students (student_id));

diesel::table! {
    fund_accounts (id) {
        id -> BigInt,
        code -> Text,
        org_id -> BigInt,
        supplier_id -> Nullable<BigInt>,
        fund -> Text,
        head_seq -> BigInt,
        head_hash -> Text,
        balance_fen -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_requests (id) {
        id -> BigInt,
        idempotency_key -> Text,
        kind -> Text,
        fund -> Text,
        from_account_id -> Nullable<BigInt>,
        to_account_id -> Nullable<BigInt>,
        for_school_id -> Nullable<BigInt>,
        reverses_request_id -> Nullable<BigInt>,
        amount_fen -> BigInt,
        value_date -> Date,
        category -> Text,
        voucher_no -> Text,
        memo -> Text,
        status -> Text,
        maker -> Text,
        made_at -> Timestamp,
        checker -> Nullable<Text>,
        checked_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        account_id -> BigInt,
        seq -> BigInt,
        request_id -> BigInt,
        kind -> Text,
        amount_fen -> BigInt,
        value_date -> Date,
        month -> Integer,
        category -> Text,
        counter_account_id -> Nullable<BigInt>,
        for_school_id -> Nullable<BigInt>,
        reverses_entry_id -> Nullable<BigInt>,
        voucher_no -> Text,
        memo -> Text,
        maker -> Text,
        checker -> Text,
        posted_at -> Timestamp,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    ledger_closings (id) {
        id -> BigInt,
        org_id -> BigInt,
        month -> Integer,
        closed_by -> Text,
        closed_at -> Timestamp,
    }
}

diesel::table! {
    ledger_settings (id) {
        id -> BigInt,
        org_id -> BigInt,
        approval_threshold_fen -> BigInt,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    meals_served (id) {
        id -> BigInt,
        school_id -> BigInt,
        month -> Integer,
        days_served -> Integer,
        meals -> Integer,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(fund_accounts -> orgs (org_id));
diesel::joinable!(ledger_entries -> ledger_requests (request_id));
diesel::joinable!(ledger_closings -> orgs (org_id));
diesel::joinable!(ledger_settings -> orgs (org_id));
diesel::joinable!(meals_served -> orgs (school_id));

diesel::table! {
    yibu_periods (id) {
        id -> BigInt,
        school_id -> BigInt,
        county_code -> Text,
        term -> Text,
        status -> Text,
        term_days -> Integer,
        students -> Integer,
        amount_fen -> BigInt,
        adjustment_fen -> BigInt,
        computed_by -> Text,
        computed_at -> Timestamp,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    yibu_lines (id) {
        id -> BigInt,
        period_id -> BigInt,
        student_id -> BigInt,
        kind -> Text,
        for_term -> Text,
        rate_kind -> Text,
        days -> Integer,
        term_days -> Integer,
        amount_fen -> BigInt,
    }
}

diesel::joinable!(yibu_periods -> orgs (school_id));
diesel::joinable!(yibu_lines -> yibu_periods (period_id));
diesel::joinable!(yibu_lines -> students (student_id));

diesel::table! {
    report_submissions (id) {
        id -> BigInt,
        report -> Text,
        org_id -> BigInt,
        period -> Text,
        report_date -> Date,
        version -> Integer,
        content -> Text,
        content_hash -> Text,
        diff -> Text,
        due_date -> Date,
        submitted_by -> Text,
        submitted_at -> Timestamp,
        status -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Text,
    }
}

diesel::joinable!(report_submissions -> orgs (org_id));

diesel::table! {
    anomaly_settings (id) {
        id -> BigInt,
        org_id -> BigInt,
        rule -> Text,
        threshold -> Nullable<Text>,
        severity -> Nullable<Text>,
        note -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    anomaly_flags (id) {
        id -> BigInt,
        term -> Text,
        fingerprint -> Text,
        rule -> Text,
        org_id -> BigInt,
        org_path -> Text,
        student_id -> Nullable<BigInt>,
        month -> Nullable<Integer>,
        severity -> Text,
        amount_fen -> Nullable<BigInt>,
        message -> Text,
        state -> Text,
        holds -> Bool,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    anomaly_flag_events (id) {
        id -> BigInt,
        flag_id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        from_state -> Nullable<Text>,
        to_state -> Text,
        note -> Text,
    }
}

diesel::table! {
    anomaly_scans (id) {
        id -> BigInt,
        org_id -> BigInt,
        term -> Text,
        audit_id -> BigInt,
        flags -> Integer,
        scanned_at -> Timestamp,
    }
}

diesel::joinable!(anomaly_settings -> orgs (org_id));
diesel::joinable!(anomaly_flags -> orgs (org_id));
diesel::joinable!(anomaly_flag_events -> anomaly_flags (flag_id));

diesel::table! {
    inspection_plans (id) {
        id -> BigInt,
        org_id -> BigInt,
        term -> Text,
        method -> Text,
        risk_share -> Integer,
        schools -> Integer,
        students -> Integer,
        seed -> Text,
        data_hash -> Text,
        drawn_by -> Text,
        drawn_at -> Timestamp,
    }
}

diesel::table! {
    inspection_visits (id) {
        id -> BigInt,
        plan_id -> BigInt,
        school_id -> BigInt,
        seq -> Integer,
        risk -> Nullable<Text>,
        status -> Text,
        visited_on -> Nullable<Date>,
        visited_by -> Nullable<Text>,
        meals_school -> Nullable<Integer>,
        meals_counted -> Nullable<Integer>,
        note -> Text,
    }
}

diesel::table! {
    inspection_sampled (visit_id, seq) {
        visit_id -> BigInt,
        seq -> Integer,
        student_id -> BigInt,
        present -> Nullable<Bool>,
        in_class -> Nullable<Bool>,
        eats_here -> Nullable<Bool>,
        guardian_confirms -> Nullable<Bool>,
    }
}

diesel::joinable!(inspection_plans -> orgs (org_id));
diesel::joinable!(inspection_visits -> inspection_plans (plan_id));
diesel::joinable!(inspection_visits -> orgs (school_id));
diesel::joinable!(inspection_sampled -> inspection_visits (visit_id));
diesel::joinable!(inspection_sampled -> students (student_id));

diesel::table! {
    findings (id) {
        id -> BigInt,
        school_id -> BigInt,
        term -> Text,
        visit_id -> Nullable<BigInt>,
        flag_id -> Nullable<BigInt>,
        rule -> Text,
        severity -> Text,
        description -> Text,
        amount_fen -> Nullable<BigInt>,
        status -> Text,
        rectification -> Nullable<Text>,
        deadline -> Nullable<Date>,
        answer -> Nullable<Text>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
        verified_by -> Nullable<Text>,
        verified_at -> Nullable<Timestamp>,
        ledger_request_id -> Nullable<BigInt>,
        change_request_id -> Nullable<BigInt>,
        status_change_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    finding_evidence (finding_id, attachment_id) {
        finding_id -> BigInt,
        attachment_id -> BigInt,
    }
}

diesel::table! {
    finding_events (id) {
        id -> BigInt,
        finding_id -> BigInt,
        at -> Timestamp,
        actor -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Text,
    }
}

diesel::joinable!(findings -> orgs (school_id));
diesel::joinable!(finding_evidence -> findings (finding_id));
diesel::joinable!(finding_evidence -> attachments (attachment_id));
diesel::joinable!(finding_events -> findings (finding_id));

diesel::table! {
    daily_meals (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> BigInt,
        day -> Date,
        eligible -> Integer,
        ate -> Integer,
        late -> Bool,
        reason -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(daily_meals -> orgs (school_id));
diesel::joinable!(daily_meals -> classes (class_id));

diesel::table! {
    daily_meal_absences (id) {
        id -> BigInt,
        daily_meal_id -> BigInt,
        student_id -> BigInt,
    }
}

diesel::table! {
    meal_settings (id) {
        id -> BigInt,
        org_id -> BigInt,
        deadline -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    meal_corrections (id) {
        id -> BigInt,
        school_id -> BigInt,
        day -> Date,
        changes -> Text,
        reason -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        note -> Text,
    }
}

diesel::joinable!(daily_meal_absences -> daily_meals (daily_meal_id));
diesel::joinable!(daily_meal_absences -> students (student_id));
diesel::joinable!(meal_settings -> orgs (org_id));
diesel::joinable!(meal_corrections -> orgs (school_id));

diesel::table! {
    meal_accompany (id) {
        id -> BigInt,
        school_id -> BigInt,
        day -> Date,
        person -> Text,
        post -> Text,
        served -> Text,
        remarks -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    weekly_menus (id) {
        id -> BigInt,
        school_id -> BigInt,
        week_start -> Date,
        monday -> Text,
        tuesday -> Text,
        wednesday -> Text,
        thursday -> Text,
        friday -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::joinable!(meal_accompany -> orgs (school_id));
diesel::joinable!(weekly_menus -> orgs (school_id));

diesel::table! {
    purchases (id) {
        id -> BigInt,
        idempotency_key -> Text,
        mode -> Text,
        school_id -> BigInt,
        request_id -> Nullable<BigInt>,
        supplier_id -> Nullable<BigInt>,
        supplier_name -> Text,
        delivered_on -> Date,
        invoice_no -> Text,
        amount_fen -> BigInt,
        memo -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    purchase_lines (purchase_id, seq) {
        purchase_id -> BigInt,
        seq -> Integer,
        food -> Text,
        category -> Text,
        qty_milli -> BigInt,
        price_fen -> Nullable<BigInt>,
        amount_fen -> BigInt,
        spec -> Text,
    }
}

diesel::table! {
    purchase_documents (purchase_id, attachment_id) {
        purchase_id -> BigInt,
        attachment_id -> BigInt,
        kind -> Text,
        pages -> Integer,
    }
}

diesel::table! {
    stock_items (id) {
        id -> BigInt,
        school_id -> BigInt,
        food -> Text,
        balance_milli -> BigInt,
    }
}

diesel::table! {
    stock_entries (id) {
        id -> BigInt,
        item_id -> BigInt,
        day -> Date,
        qty_milli -> BigInt,
        purchase_id -> Nullable<BigInt>,
        corrects -> Nullable<BigInt>,
        note -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(purchases -> orgs (school_id));
diesel::joinable!(purchases -> ledger_requests (request_id));
diesel::joinable!(purchases -> suppliers (supplier_id));
diesel::joinable!(purchase_lines -> purchases (purchase_id));
diesel::joinable!(purchase_documents -> purchases (purchase_id));
diesel::joinable!(purchase_documents -> attachments (attachment_id));
diesel::joinable!(stock_items -> orgs (school_id));
diesel::joinable!(stock_entries -> stock_items (item_id));

diesel::table! {
    roster_settings (org_id) {
        org_id -> BigInt,
        two_person -> Bool,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::joinable!(roster_settings -> orgs (org_id));

diesel::table! {
    notice_settings (org_id) {
        org_id -> BigInt,
        hotline -> Text,
        set_by -> Text,
        set_at -> Timestamp,
    }
}

diesel::table! {
    complaints (id) {
        id -> BigInt,
        tracking_code -> Text,
        school_id -> Nullable<BigInt>,
        county_id -> BigInt,
        channel -> Text,
        category -> Text,
        content -> Text,
        anonymous -> Bool,
        name -> Text,
        contact_sealed -> Text,
        status -> Text,
        answer -> Text,
        answered_by -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
        finding_id -> Nullable<BigInt>,
        source_hash -> Text,
        received_by -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(notice_settings -> orgs (org_id));
diesel::joinable!(complaints -> findings (finding_id));

diesel::table! {
    chain_starts (chain) {
        chain -> Text,
        keyed_from -> BigInt,
        key_id -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        owner_id -> BigInt,
        kind -> Text,
        title -> Text,
        state -> Text,
        stage -> Text,
        done -> BigInt,
        total -> Nullable<BigInt>,
        error -> Nullable<Text>,
        report_json -> Nullable<Text>,
        error_workbook -> Nullable<Binary>,
        file_name -> Nullable<Text>,
        file_bytes -> Nullable<Binary>,
        input_json -> Text,
        input_bytes -> Nullable<Binary>,
        server_id -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        expired -> Bool,
    }
}

diesel::table! {
    password_history (id) {
        id -> BigInt,
        user_id -> BigInt,
        password_hash -> Text,
        retired_at -> Timestamp,
    }
}

diesel::table! {
    audit_archives (id) {
        id -> BigInt,
        from_id -> BigInt,
        to_id -> BigInt,
        row_count -> BigInt,
        last_hash -> Text,
        file -> Text,
        sha256 -> Text,
        archived_at -> Timestamp,
        archived_by -> Text,
    }
}

diesel::table! {
    exchange_sent (id) {
        id -> BigInt,
        province -> Text,
        seq -> BigInt,
        period -> Text,
        digest -> Text,
        children -> BigInt,
        without_id -> BigInt,
        counties -> BigInt,
        package -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    exchange_child_keys (student_id) {
        student_id -> BigInt,
        child_key -> Text,
    }
}

diesel::table! {
    exchange_received (id) {
        id -> BigInt,
        province -> Text,
        seq -> BigInt,
        digest -> Text,
        matches -> BigInt,
        unknown -> BigInt,
        received_by -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    exchange_matches (id) {
        id -> BigInt,
        received_id -> BigInt,
        student_id -> BigInt,
        school_id -> BigInt,
        other_province -> Text,
        active -> Text,
        paid -> Text,
        first_day -> Date,
        last_day -> Date,
    }
}

diesel::table! {
    centre_provinces (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        public_key -> Text,
        registered_by -> Text,
        registered_at -> Timestamp,
    }
}

diesel::table! {
    centre_packages (id) {
        id -> BigInt,
        province -> Text,
        seq -> BigInt,
        period -> Text,
        digest -> Text,
        created_at -> Text,
        children -> BigInt,
        counties -> BigInt,
        superseded -> Bool,
        received_by -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    centre_county_months (id) {
        id -> BigInt,
        package_id -> BigInt,
        province -> Text,
        county -> Text,
        month -> Text,
        beneficiaries -> BigInt,
        meals -> BigInt,
        entitled_fen -> BigInt,
        allocated_fen -> BigInt,
        spent_fen -> BigInt,
    }
}

diesel::table! {
    centre_children (id) {
        id -> BigInt,
        package_id -> BigInt,
        province -> Text,
        child_key -> Text,
        active -> Text,
        paid -> Text,
    }
}

diesel::table! {
    centre_claims (id) {
        id -> BigInt,
        child_key -> Text,
        province_a -> Text,
        province_b -> Text,
        active -> Text,
        paid -> Text,
        active_days -> BigInt,
        paid_days -> BigInt,
        found_at -> Timestamp,
    }
}

diesel::table! {
    centre_returns (id) {
        id -> BigInt,
        province -> Text,
        seq -> BigInt,
        digest -> Text,
        matches -> BigInt,
        package -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(exchange_matches -> students (student_id));
diesel::joinable!(exchange_matches -> orgs (school_id));
diesel::joinable!(centre_children -> centre_packages (package_id));
diesel::joinable!(centre_county_months -> centre_packages (package_id));

diesel::table! {
    collect_points (id) {
        id -> BigInt,
        county_code -> Text,
        name -> Text,
        schools -> Text,
        key_sealed -> Text,
        registered_by -> Text,
        registered_at -> Timestamp,
    }
}

diesel::table! {
    collect_packages (id) {
        id -> BigInt,
        point_id -> BigInt,
        seq -> BigInt,
        digest -> Text,
        created_at -> Text,
        summary -> Text,
        received_by -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    collect_children (point_id, point_student) {
        point_id -> BigInt,
        point_student -> BigInt,
        student_id -> BigInt,
    }
}

diesel::table! {
    collect_items (id) {
        id -> BigInt,
        point_id -> BigInt,
        package_seq -> BigInt,
        kind -> Text,
        school_code -> Text,
        student_id -> Nullable<BigInt>,
        subject -> Text,
        field -> Text,
        base_value -> Nullable<Text>,
        theirs -> Nullable<Text>,
        ours -> Nullable<Text>,
        state -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        note -> Text,
    }
}

diesel::table! {
    collect_pairing (id) {
        id -> Integer,
        county_code -> Text,
        point -> Text,
        schools -> Text,
        key_sealed -> Text,
        paired_by -> Text,
        paired_at -> Timestamp,
    }
}

diesel::table! {
    collect_sent (id) {
        id -> BigInt,
        seq -> BigInt,
        since -> Timestamp,
        cut -> Timestamp,
        children -> BigInt,
        package -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(collect_packages -> collect_points (point_id));
diesel::joinable!(collect_items -> collect_points (point_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    roster_settings,
    daily_meals,
    daily_meal_absences,
    meal_settings,
    meal_corrections,
    meal_accompany,
    weekly_menus,
    account_requests,
    login_throttle,
    schools,
    campuses,
    teachers,
    classes,
    users,
    user_roles,
    sessions,
    audit_log,
    students,
    student_no_counters,
    student_history,
    key_locks,
    attachments,
    change_requests,
    student_photos,
    student_merges,
    school_terms,
    transfer_restrictions,
    workflow_steps,
    status_changes,
    status_change_steps,
    promotions,
    student_spells,
    county_plans,
    programme_schools,
    subsidy_standards,
    central_shares,
    suppliers,
    meal_models,
    meal_calendars,
    rosters,
    roster_lines,
    roster_scans,
    roster_scan_pages,
    purchases,
    purchase_lines,
    purchase_documents,
    stock_items,
    stock_entries,
    notice_settings,
    complaints,
    entitlement_rules,
    entitlement_periods,
    entitlement_lines,
    fund_accounts,
    ledger_requests,
    ledger_entries,
    ledger_closings,
    ledger_settings,
    meals_served,
    yibu_periods,
    yibu_lines,
    report_submissions,
    anomaly_settings,
    anomaly_flags,
    anomaly_flag_events,
    anomaly_scans,
    inspection_plans,
    inspection_visits,
    inspection_sampled,
    findings,
    finding_evidence,
    finding_events,
    exchange_sent,
    exchange_child_keys,
    exchange_received,
    exchange_matches,
    centre_provinces,
    centre_packages,
    centre_county_months,
    centre_children,
    centre_claims,
    centre_returns,
    collect_points,
    collect_packages,
    collect_children,
    collect_items,
    collect_pairing,
    collect_sent,
);
