// Hand-written behavioural baseline of the peforge int_mac PE.
//
// This is the reference that scripts/synth_area.py compares the generated PE against: the
// straightforward Verilog a designer writes by hand for the same function and the same ports.
//
//   i__payload (low bits first): a[0..LANES-1] (A_WIDTH each), b[0..LANES-1] (B_WIDTH each), last
//   o__payload: acc (ACC_WIDTH bits, two's complement unless both operands are unsigned)
//
// Every accepted input beat adds sum_k a[k]*b[k] to the accumulator; a beat with last = 1 loads
// the sum (that beat included) into the output register and clears the accumulator.
// i__ready = !o__valid || o__ready, so one beat per cycle while the consumer keeps up.
// Sums wrap modulo 2**ACC_WIDTH.
`default_nettype none

module int_mac_baseline #(
    parameter integer A_WIDTH   = 8,
    parameter integer B_WIDTH   = 8,
    parameter integer A_SIGNED  = 1,
    parameter integer B_SIGNED  = 1,
    parameter integer LANES     = 1,
    parameter integer ACC_WIDTH = 32
) (
    input  wire                               clk,
    input  wire                               rst,
    input  wire                               i__valid,
    output wire                               i__ready,
    input  wire [LANES*(A_WIDTH+B_WIDTH):0]   i__payload,
    output reg                                o__valid,
    input  wire                               o__ready,
    output reg  [ACC_WIDTH-1:0]               o__payload
);
    localparam integer P_WIDTH  = A_WIDTH + B_WIDTH;   // exact width of one product
    localparam integer P_SIGNED = (A_SIGNED != 0 || B_SIGNED != 0) ? 1 : 0;

    wire last = i__payload[LANES*P_WIDTH];

    // One product per lane, each sign- or zero-extended (or wrapped) to ACC_WIDTH bits, so the
    // sum below is plain modulo-2**ACC_WIDTH arithmetic.
    wire [LANES*ACC_WIDTH-1:0] terms;

    genvar k;
    generate
        for (k = 0; k < LANES; k = k + 1) begin : g_lane
            wire [A_WIDTH-1:0] a = i__payload[k*A_WIDTH +: A_WIDTH];
            wire [B_WIDTH-1:0] b = i__payload[LANES*A_WIDTH + k*B_WIDTH +: B_WIDTH];
            // With ACC_WIDTH < P_WIDTH the top product bits are dropped on purpose (wrap).
            /* verilator lint_off UNUSEDSIGNAL */
            wire [P_WIDTH-1:0] p;
            /* verilator lint_on UNUSEDSIGNAL */

            if (A_SIGNED != 0 && B_SIGNED != 0) begin : g_ss
                wire signed [A_WIDTH-1:0] sa = a;
                wire signed [B_WIDTH-1:0] sb = b;
                wire signed [P_WIDTH-1:0] sp = sa * sb;
                assign p = sp;
            end else if (A_SIGNED != 0) begin : g_su
                // Mixed signedness: a zero bit above b makes it a non-negative signed operand.
                wire signed [A_WIDTH-1:0] sa = a;
                wire signed [B_WIDTH:0]   sb = {1'b0, b};
                // The exact product always fits in P_WIDTH signed bits.
                wire signed [P_WIDTH-1:0] sp = sa * sb;
                assign p = sp;
            end else if (B_SIGNED != 0) begin : g_us
                wire signed [A_WIDTH:0]   sa = {1'b0, a};
                wire signed [B_WIDTH-1:0] sb = b;
                // The exact product always fits in P_WIDTH signed bits.
                wire signed [P_WIDTH-1:0] sp = sa * sb;
                assign p = sp;
            end else begin : g_uu
                assign p = a * b;
            end

            if (ACC_WIDTH > P_WIDTH) begin : g_extend
                wire fill = (P_SIGNED != 0) ? p[P_WIDTH-1] : 1'b0;
                assign terms[k*ACC_WIDTH +: ACC_WIDTH] = {{(ACC_WIDTH-P_WIDTH){fill}}, p};
            end else begin : g_wrap
                assign terms[k*ACC_WIDTH +: ACC_WIDTH] = p[ACC_WIDTH-1:0];
            end
        end
    endgenerate

    reg [ACC_WIDTH-1:0] dot;
    integer j;
    always @* begin
        dot = {ACC_WIDTH{1'b0}};
        for (j = 0; j < LANES; j = j + 1)
            dot = dot + terms[j*ACC_WIDTH +: ACC_WIDTH];
    end

    reg  [ACC_WIDTH-1:0] acc;
    wire [ACC_WIDTH-1:0] total = acc + dot;

    assign i__ready = ~o__valid | o__ready;

    always @(posedge clk) begin
        if (rst) begin
            acc        <= {ACC_WIDTH{1'b0}};
            o__valid   <= 1'b0;
            o__payload <= {ACC_WIDTH{1'b0}};
        end else if (i__ready) begin
            o__valid <= i__valid & last;
            if (i__valid) begin
                if (last) begin
                    o__payload <= total;
                    acc        <= {ACC_WIDTH{1'b0}};
                end else begin
                    acc <= total;
                end
            end
        end
    end
endmodule

`default_nettype wire
